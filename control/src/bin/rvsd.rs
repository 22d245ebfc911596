//! `rvsd`: the rvs daemon. Owns the datapath, keeps the configuration, serves the control
//! socket.
//!
//! `rvsd [DATABASE] [--rundir DIR] [--dbdir DIR] [--unixctl SOCKET] [--detach]
//! [--pidfile[=FILE]] [--log-file[=FILE]] [-v[SPEC]]`. Without DATABASE: the embedded mode
//! (configuration in `DBDIR/conf.json`, changed by rvs's `ovs-vsctl`). With DATABASE
//! (`unix:PATH`, `tcp:IP:PORT`): a drop-in ovs-vswitchd, configured by that ovsdb-server
//! ([`rvs_control::vswitchd`]), with ovs-vswitchd's default paths so Debian's tools find it.
//! Runs in the foreground unless `--detach`. SIGTERM/SIGINT: stop the PMDs, close every port
//! (TAP devices rvs created vanish), keep the config, exit 0.

use rvs_control::client::{default_dbdir, default_rundir, SOCKET_NAME};
use rvs_control::daemon::{dpif_config, Daemon};
use rvs_control::files::{Pidfile, RundirLock};
use rvs_control::log::{self, Level};
use rvs_control::log_at;
use rvs_control::ovsdb::Remote;
use rvs_control::server;
use rvs_control::store;
use rvs_control::vswitchd::config_from_replica;
use rvs_control::vswitchd::OvsdbLink;
use rvs_datapath::dpif::Dpif;
use std::path::PathBuf;

#[derive(Debug, Default)]
struct Opts {
    /// `unix:PATH` or `tcp:IP:PORT`: run as ovs-vswitchd, configured from that ovsdb-server.
    database: Option<String>,
    rundir: Option<PathBuf>,
    dbdir: Option<PathBuf>,
    detach: bool,
    pidfile: Option<Option<PathBuf>>,
    log_file: Option<Option<PathBuf>>,
    unixctl: Option<PathBuf>,
    /// `-v` specs in the order given (`dbg`, `file:info`, `console:emer`, …).
    verbosity: Vec<String>,
}

fn die(msg: &str) -> ! {
    eprintln!("rvsd: {msg}");
    std::process::exit(1);
}

fn usage() -> ! {
    println!(
        "rvsd: rvs userspace switch daemon
usage: rvsd [DATABASE] [OPTIONS]
  DATABASE            unix:PATH or tcp:IP:PORT: run as ovs-vswitchd, configured by that
                      ovsdb-server (default: the embedded mode, configured by conf.json)
  --rundir=DIR        control socket, pidfile and lock directory (default $RVS_RUNDIR or
                      /var/run/rvs; with DATABASE $OVS_RUNDIR or /var/run/openvswitch)
  --dbdir=DIR         configuration directory, embedded mode (default $RVS_DBDIR or /var/lib/rvs)
  --unixctl=SOCKET    control socket (default RUNDIR/rvsd.ctl; with DATABASE
                      RUNDIR/ovs-vswitchd.PID.ctl, where Debian's ovs-appctl looks)
  --detach            run in the background
  --pidfile[=FILE]    write a pidfile (default RUNDIR/rvsd.pid; with DATABASE
                      RUNDIR/ovs-vswitchd.pid)
  --log-file[=FILE]   log to FILE instead of stderr (default /var/log/rvs/rvsd.log; with
                      DATABASE $OVS_LOGDIR/ovs-vswitchd.log or /var/log/openvswitch/ovs-vswitchd.log)
  -v, --verbose[=SPEC]  log level: err, warn, info (default), dbg; OVS's [module:][dest:]level
                      specs (-vconsole:emer -vfile:info) are accepted for the sink in use
  --no-chdir, --monitor, --mlockall  accepted for ovs-vswitchd compatibility (no effect)"
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
            "--unixctl" => o.unixctl = Some(value(&mut i).into()),
            "--detach" => o.detach = true,
            "--pidfile" => o.pidfile = Some(inline.clone().map(PathBuf::from)),
            "--log-file" => o.log_file = Some(inline.clone().map(PathBuf::from)),
            "--verbose" => o
                .verbosity
                .push(inline.clone().unwrap_or_else(|| "dbg".into())),
            "--no-chdir" | "--monitor" | "--mlockall" | "--overwrite-pidfile" => {}
            v if v.starts_with("-v") => o.verbosity.push(match &a[2..] {
                "" => "dbg".to_string(),
                spec => spec.to_string(),
            }),
            "-h" | "--help" => usage(),
            "-V" | "--version" => {
                println!("rvsd (rvs) {}", rvs_control::daemon::VERSION);
                std::process::exit(0);
            }
            db if !db.starts_with('-') && o.database.is_none() => {
                if let Err(e) = Remote::parse(db) {
                    die(&format!("{db}: {e}"));
                }
                o.database = Some(db.to_string());
            }
            _ => die(&format!("unrecognized option '{a}' (use --help for help)")),
        }
        i += 1;
    }
    o
}

/// The level a `-v` spec sets for our one sink (`file` when logging to a file, else
/// `console`): `LEVEL`, `DEST:LEVEL` or `MODULE:DEST:LEVEL`; specs for other destinations
/// (e.g. `syslog`) are ignored. OVS's `emer` is our `err`.
fn level_of(spec: &str, to_file: bool) -> Result<Option<Level>, String> {
    let parts: Vec<&str> = spec.split(':').collect();
    let level = parts.last().copied().unwrap_or_default();
    let level = if level == "emer" || level == "off" {
        Some(Level::Err)
    } else {
        Level::parse(level)
    };
    let Some(level) = level else {
        return Err(format!("unknown log level in '-v{spec}'"));
    };
    let dest_ok = parts[..parts.len() - 1].iter().all(|d| match *d {
        "file" => to_file,
        "console" => !to_file,
        "syslog" => false,
        _ => true, // a module name, or "ANY"
    });
    Ok(dest_ok.then_some(level))
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

/// Where things go in each mode.
struct Paths {
    rundir: PathBuf,
    pidfile: Option<PathBuf>,
    log_file: Option<PathBuf>,
}

fn paths(o: &Opts) -> Paths {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let vswitchd = o.database.is_some();
    let rundir = o.rundir.clone().unwrap_or_else(|| {
        if vswitchd {
            env("OVS_RUNDIR").unwrap_or_else(|| PathBuf::from("/var/run/openvswitch"))
        } else {
            default_rundir()
        }
    });
    let (pid_name, default_log) = if vswitchd {
        let logdir = env("OVS_LOGDIR").unwrap_or_else(|| PathBuf::from("/var/log/openvswitch"));
        ("ovs-vswitchd.pid", logdir.join("ovs-vswitchd.log"))
    } else {
        ("rvsd.pid", PathBuf::from("/var/log/rvs/rvsd.log"))
    };
    Paths {
        pidfile: o
            .pidfile
            .as_ref()
            .map(|p| p.clone().unwrap_or_else(|| rundir.join(pid_name))),
        log_file: o
            .log_file
            .as_ref()
            .map(|f| f.clone().unwrap_or(default_log)),
        rundir,
    }
}

fn main() {
    pin_mmap_threshold();
    let o = parse_args();
    let p = paths(&o);
    for spec in &o.verbosity {
        match level_of(spec, p.log_file.is_some()) {
            Ok(Some(l)) => log::set_level(l),
            Ok(None) => {}
            Err(e) => die(&e),
        }
    }
    let dbdir = o.dbdir.clone().unwrap_or_else(default_dbdir);
    let mut dirs = vec![&p.rundir];
    if o.database.is_none() {
        dirs.push(&dbdir);
    }
    for d in dirs {
        if let Err(e) = std::fs::create_dir_all(d) {
            die(&format!("{}: cannot create directory ({e})", d.display()));
        }
    }
    // Before anything else touches the run directory: one daemon per rundir.
    let lock = RundirLock::acquire(&p.rundir).unwrap_or_else(|e| die(&e));
    // Embedded mode: refuse a corrupt or newer config before anything else, and never
    // overwrite it.
    let db = match o.database {
        Some(_) => None,
        None => match store::load(&dbdir) {
            Ok(db) => {
                store::remove_stale_temps(&dbdir);
                Some(db)
            }
            Err(e) => die(&format!(
                "{e}; refusing to start (the file is left untouched)"
            )),
        },
    };
    if let Some(path) = &p.log_file {
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        if let Err(e) = log::set_file(path) {
            die(&format!("{}: cannot open log file ({e})", path.display()));
        }
    }
    let ready = o.detach.then(detach);
    if ready.is_some() {
        // The lock came along through fork(); its PID did not.
        let _ = lock.record_pid();
    }
    let sock = o.unixctl.clone().unwrap_or_else(|| match o.database {
        // Where Debian's ovs-appctl looks for "ovs-vswitchd" (it reads the PID from the
        // pidfile): RUNDIR/ovs-vswitchd.PID.ctl.
        Some(_) => p
            .rundir
            .join(format!("ovs-vswitchd.{}.ctl", std::process::id())),
        None => p.rundir.join(SOCKET_NAME),
    });
    let listener = match server::bind(&sock) {
        Ok(l) => l,
        Err(e) => die(&format!("{}: cannot listen ({e})", sock.display())),
    };
    // Written (and fcntl-locked, as OVS's tools expect) by the process that serves.
    let pidfile = p.pidfile.as_ref().map(|pf| {
        Pidfile::create(pf).unwrap_or_else(|e| {
            die(&format!(
                "{}: cannot write pidfile ({})",
                pf.display(),
                e.source
            ))
        })
    });
    server::install_signal_handlers();
    // The embedded database's configuration sizes the datapath (n-pmd, pmd-cpu-mask).
    let dp_cfg = db
        .as_ref()
        .map(|db| dpif_config(&config_from_replica(db.replica())))
        .unwrap_or_default();
    let dp = match Dpif::new(&dp_cfg) {
        Ok(d) => d,
        Err(e) => die(&format!("cannot start datapath: {e}")),
    };
    let mut daemon = match (&o.database, db) {
        (Some(db), _) => {
            let link = OvsdbLink::new(db, std::time::Instant::now()).unwrap_or_else(|e| die(&e));
            log_at!(
                Level::Info,
                "rvsd {} started as ovs-vswitchd; database {db}, control socket {}",
                rvs_control::daemon::VERSION,
                sock.display()
            );
            Daemon::with_ovsdb(link, dp)
        }
        (None, db) => {
            let d = Daemon::new(db.unwrap_or_default(), dbdir.clone(), dp);
            log_at!(
                Level::Info,
                "rvsd {} started; control socket {}, config {}",
                rvs_control::daemon::VERSION,
                sock.display(),
                store::path(&dbdir).display()
            );
            d
        }
    };
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
    drop(pidfile);
    drop(lock);
    if let Err(e) = r {
        die(&format!("control loop failed: {e}"));
    }
}
