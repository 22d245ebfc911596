//! Running commands: [`run`] returns stdout or panics with the command line, exit status and
//! stderr (so a test failure says what went wrong); [`try_run`] returns the output whatever
//! the status; [`run_checked`] returns it as a `Result` for code that reports errors instead
//! of panicking (the lab, rvs-bench). [`shell_words`] splits recorded command lines.

use std::ffi::OsStr;
use std::io;
use std::process::{Command, Output};

/// Split a command line into words the way a shell would for simple cases: spaces separate
/// words, single quotes group them (`set interface p1 'external_ids:a=b c'`). Used to turn
/// recorded `ovs-vsctl` command lines into argument vectors.
pub fn shell_words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut cur, mut in_q, mut any) = (String::new(), false, false);
    for c in line.chars() {
        match c {
            '\'' => {
                in_q = !in_q;
                any = true;
            }
            ' ' if !in_q => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

pub(crate) fn describe<I, S>(args: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    args.into_iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect()
}

/// A finished command's status, stdout and stderr, for failure messages.
pub fn output_text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The command's stdout when it ran and exited 0; otherwise an error naming the command
/// line, the exit status and what it printed (stderr, or stdout when stderr is empty).
pub fn checked(cmdline: &str, out: io::Result<Output>) -> Result<String, String> {
    match out {
        Ok(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout).into_owned()),
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr);
            let out = String::from_utf8_lossy(&o.stdout);
            let msg = if err.trim().is_empty() { out } else { err };
            Err(format!("`{cmdline}` failed ({}): {}", o.status, msg.trim()))
        }
        Err(e) => Err(format!("could not run `{cmdline}`: {e}")),
    }
}

pub(crate) fn check(cmdline: &[String], out: io::Result<Output>) -> String {
    checked(&cmdline.join(" "), out).unwrap_or_else(|e| panic!("{e}"))
}

/// Run a command in the current namespace; returns stdout, panics with details on failure.
pub fn run<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args = describe(args);
    let Some((prog, rest)) = args.split_first() else {
        panic!("run: empty command");
    };
    check(&args, Command::new(prog).args(rest).output())
}

/// Run a command in the current namespace and return its output whatever the exit status.
pub fn try_run<I, S>(args: I) -> io::Result<Output>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args = describe(args);
    let Some((prog, rest)) = args.split_first() else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty command"));
    };
    Command::new(prog).args(rest).output()
}

/// Run a command in the current namespace: stdout on exit 0, else the error of [`checked`].
pub fn run_checked<I, S>(args: I) -> Result<String, String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args = describe(args);
    checked(&args.join(" "), try_run(&args))
}

/// Write `DIR/docker`, a stand-in for `docker` that answers only what Debian's `ovs-docker`
/// asks — `docker inspect -f '{{.State.Pid}}' NAME` — with the PID of each `(NAME, PID)`
/// (a process in the "container's" namespace), and fails like docker for any other name.
/// Put `DIR` first on `PATH` for `ovs-docker`.
pub fn docker_stand_in(dir: &std::path::Path, containers: &[(&str, u32)]) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)?;
    let cases: String = containers
        .iter()
        .map(|(name, pid)| format!("  {name}) echo {pid} ;;\n"))
        .collect();
    let script = format!(
        "#!/bin/sh\n# docker inspect -f '{{{{.State.Pid}}}}' NAME\n[ \"$1\" = inspect ] || exit 1\n\
         case \"$4\" in\n{cases}  *) echo \"Error: No such object: $4\" >&2; exit 1 ;;\nesac\n"
    );
    let docker = dir.join("docker");
    std::fs::write(&docker, script)?;
    std::fs::set_permissions(&docker, std::fs::Permissions::from_mode(0o755))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_checked_errors() {
        assert_eq!(
            shell_words("set interface p1 'external_ids:a=b c'  x"),
            ["set", "interface", "p1", "external_ids:a=b c", "x"]
        );
        assert_eq!(run_checked(["sh", "-c", "echo hi"]).unwrap(), "hi\n");
        let e = run_checked(["sh", "-c", "echo oops >&2; exit 3"]).unwrap_err();
        assert!(e.contains("exit status: 3") && e.contains("oops"), "{e}");
        let dir = std::env::temp_dir().join(crate::owned_name("docker"));
        docker_stand_in(&dir, &[("c1", 42)]).unwrap();
        let docker = dir.join("docker").display().to_string();
        let inspect = |name: &str| run_checked([&docker, "inspect", "-f", "{{.State.Pid}}", name]);
        assert_eq!(inspect("c1").unwrap(), "42\n");
        assert!(inspect("c9").unwrap_err().contains("No such object: c9"));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(run_checked(["/nonexistent/prog"])
            .unwrap_err()
            .contains("could not run"));
    }
}
