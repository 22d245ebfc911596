//! `rvsd`: the rvs daemon. Owns the datapath, keeps the configuration, serves the control
//! socket.
//!
//! `rvsd [--rundir DIR] [--dbdir DIR] [--detach] [--pidfile[=FILE]] [--log-file[=FILE]]
//! [--verbose[=LEVEL]]`. Runs in the foreground unless `--detach`. SIGTERM/SIGINT: stop the
//! PMDs, close every port (TAP devices rvs created vanish), keep the config, exit 0.

use rvs_control::client::{default_dbdir, default_rundir, SOCKET_NAME};
use rvs_control::config::Config;
use rvs_control::daemon::Daemon;
use rvs_control::files::{self, RundirLock};
use rvs_control::log::{self, Level};
use rvs_control::log_at;
use rvs_control::server;
use rvs_datapath::dpif::{Dpif, DpifConfig};
use std::path::{Path, PathBuf};

#[derive(Debug, Default)]
struct Opts {
    rundir: Option<PathBuf>,
    dbdir: Option<PathBuf>,
    detach: bool,
    pidfile: Option<Option<PathBuf>>,
    log_file: Option<Option<PathBuf>>,
    level: Option<Level>,
}

fn die(msg: &str) -> ! {
    eprintln!("rvsd: {msg}");
    std::process::exit(1);
}

fn usage() -> ! {
    println!(
        "rvsd: rvs userspace switch daemon\nusage: rvsd [OPTIONS]\n  --rundir=DIR        control socket and pidfile directory (default $RVS_RUNDIR or /var/run/rvs)\n  --dbdir=DIR         configuration directory (default $RVS_DBDIR or /var/lib/rvs)\n  --detach            run in the background\n  --pidfile[=FILE]    write a pidfile (default RUNDIR/rvsd.pid)\n  --log-file[=FILE]   log to FILE (default /var/log/rvs/rvsd.log) instead of stderr\n  -v, --verbose[=LEVEL]  log level: err, warn, info (default), dbg"
    );
    std::process::exit(0);
}

fn parse_args() -> Opts {
    let mut o = Opts::default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (a, None),
        };
        let value = |i: &mut usize| -> String {
            inline.clone().unwrap_or_else(|| {
                *i += 1;
                args.get(*i)
                    .cloned()
                    .unwrap_or_else(|| die(&format!("option '{name}' requires an argument")))
            })
        };
        match name {
            "--rundir" => o.rundir = Some(value(&mut i).into()),
            "--dbdir" => o.dbdir = Some(value(&mut i).into()),
            "--detach" => o.detach = true,
            "--pidfile" => o.pidfile = Some(inline.clone().map(PathBuf::from)),
            "--log-file" => o.log_file = Some(inline.clone().map(PathBuf::from)),
            "-v" | "--verbose" => {
                o.level = Some(
                    inline
                        .as_deref()
                        .map_or(Some(Level::Dbg), Level::parse)
                        .unwrap_or_else(|| die("unknown log level")),
                )
            }
            "-h" | "--help" => usage(),
            "-V" | "--version" => {
                println!("rvsd (rvs) {}", rvs_control::daemon::VERSION);
                std::process::exit(0);
            }
            _ => die(&format!("unrecognized option '{a}' (use --help for help)")),
        }
        i += 1;
    }
    o
}

/// Fork into the background. The parent exits 0 once the child reports it is serving (or 1
/// if it failed); the child returns the write end of that pipe.
fn detach() -> std::fs::File {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid two-element array for pipe() to fill.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        die("pipe failed");
    }
    // SAFETY: called before any thread is spawned, so the child is a faithful copy.
    match unsafe { libc::fork() } {
        -1 => die("fork failed"),
        0 => {
            // SAFETY: closing our copy of the read end; setsid detaches from the terminal.
            unsafe {
                libc::close(fds[0]);
                libc::setsid();
            }
            // SAFETY: fds[1] is an open pipe write end owned only by this File from now on.
            unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fds[1]) }
        }
        _ => {
            // SAFETY: closing the parent's copy of the write end; fds[0] is then owned by File.
            unsafe { libc::close(fds[1]) };
            // SAFETY: fds[0] is an open pipe read end owned only by this File from now on.
            let mut r = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fds[0]) };
            let mut b = [0u8; 1];
            let ok = std::io::Read::read(&mut r, &mut b)
                .map(|n| n == 1 && b[0] == b'1')
                .unwrap_or(false);
            std::process::exit(if ok { 0 } else { 1 });
        }
    }
}

fn redirect_stdio_to_null() {
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        use std::os::fd::AsRawFd;
        for fd in 0..3 {
            // SAFETY: dup2 onto the standard descriptors with a valid open fd.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
}

fn n_pmd(cfg: &Config) -> DpifConfig {
    let oc = &cfg.other_config;
    let mut cores: Vec<usize> = vec![];
    if let Some(mask) = oc
        .get("pmd-cpu-mask")
        .and_then(|m| u64::from_str_radix(m.trim_start_matches("0x"), 16).ok())
    {
        cores = (0..64).filter(|b| mask & (1 << b) != 0).collect();
    }
    let n = oc
        .get("n-pmd")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(if cores.is_empty() { 1 } else { cores.len() });
    DpifConfig {
        n_pmd: n.clamp(1, 64),
        pmd_cores: cores,
    }
}

/// Write the pidfile atomically (a reader never sees it half written; a symlink planted at
/// its name is replaced, not followed).
fn write_pidfile(path: &Path) {
    let pid = format!("{}\n", std::process::id());
    if let Err(e) = files::replace_file(path, pid.as_bytes(), 0o644) {
        die(&format!(
            "{}: cannot write pidfile ({})",
            path.display(),
            e.source
        ));
    }
}

/// Allocations of 1 MB and more (the flow table, the FDB) get their own mappings, so freeing
/// them returns the memory to the kernel at once. glibc's default threshold adapts upward after
/// such a free and would put the next big table on the heap, where it stays after a flood.
fn pin_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes an allocator tunable; called before any other thread runs.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

fn main() {
    pin_mmap_threshold();
    let o = parse_args();
    if let Some(l) = o.level {
        log::set_level(l);
    }
    let rundir = o.rundir.clone().unwrap_or_else(default_rundir);
    let dbdir = o.dbdir.clone().unwrap_or_else(default_dbdir);
    for d in [&rundir, &dbdir] {
        if let Err(e) = std::fs::create_dir_all(d) {
            die(&format!("{}: cannot create directory ({e})", d.display()));
        }
    }
    // Before anything else touches the run directory: one daemon per rundir.
    let lock = RundirLock::acquire(&rundir).unwrap_or_else(|e| die(&e));
    // Refuse a corrupt or newer config before anything else, and never overwrite it.
    let cfg = match Config::load(&dbdir) {
        Ok(c) => c,
        Err(e) => die(&format!(
            "{e}; refusing to start (the file is left untouched)"
        )),
    };
    Config::remove_stale_temps(&dbdir);
    if let Some(lf) = &o.log_file {
        let path = lf
            .clone()
            .unwrap_or_else(|| PathBuf::from("/var/log/rvs/rvsd.log"));
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        if let Err(e) = log::set_file(&path) {
            die(&format!("{}: cannot open log file ({e})", path.display()));
        }
    }
    let ready = o.detach.then(detach);
    if ready.is_some() {
        // The lock came along through fork(); its PID did not.
        let _ = lock.record_pid();
    }
    let sock = rundir.join(SOCKET_NAME);
    let listener = match server::bind(&sock) {
        Ok(l) => l,
        Err(e) => die(&format!("{}: cannot listen ({e})", sock.display())),
    };
    let pidfile = o
        .pidfile
        .as_ref()
        .map(|p| p.clone().unwrap_or_else(|| rundir.join("rvsd.pid")));
    if let Some(p) = &pidfile {
        write_pidfile(p);
    }
    server::install_signal_handlers();
    let dp = match Dpif::new(&n_pmd(&cfg)) {
        Ok(d) => d,
        Err(e) => die(&format!("cannot start datapath: {e}")),
    };
    let mut daemon = Daemon::new(cfg, dbdir.clone(), dp);
    log_at!(
        Level::Info,
        "rvsd {} started; control socket {}, config {}",
        rvs_control::daemon::VERSION,
        sock.display(),
        Config::path(&dbdir).display()
    );
    if let Some(mut w) = ready {
        let _ = std::io::Write::write_all(&mut w, b"1");
        redirect_stdio_to_null();
    } else {
        eprintln!("rvsd: listening on {}", sock.display());
    }
    let r = server::serve(listener, &mut daemon);
    log_at!(Level::Info, "rvsd stopping");
    daemon.shutdown();
    let _ = std::fs::remove_file(&sock);
    if let Some(p) = &pidfile {
        let _ = std::fs::remove_file(p);
    }
    drop(lock);
    if let Err(e) = r {
        die(&format!("control loop failed: {e}"));
    }
}
