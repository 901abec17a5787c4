//! Operating-system plumbing: pid files, liveness checks, signals, spawning and log tails.
//!
//! A pid file alone is not trusted: a pid is only taken to be a devnet process while the
//! process is alive (not a zombie) and its command line contains the expected argument (the
//! absolute path of its configuration file, or `up` for the supervisor). So a stale pid file
//! whose pid was reused by an unrelated program is never signalled. Where `/proc` does not
//! exist, liveness falls back to `kill(pid, 0)`.

use std::ffi::OsStr;
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use nix::errno::Errno;
use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;

use crate::error::DevnetError;

/// Reads a pid file (`None` if it is missing or does not hold a pid).
pub(crate) fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Writes a pid file.
pub(crate) fn write_pid(path: &Path, pid: u32) -> Result<(), DevnetError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(DevnetError::io(dir))?;
    }
    crate::manifest::write_file(path, format!("{pid}\n").as_bytes(), false)
}

/// Removes a pid file if it still names `pid` (or unconditionally with `None`).
pub(crate) fn remove_pid(path: &Path, pid: Option<u32>) {
    if pid.is_none() || read_pid(path) == pid {
        let _ = std::fs::remove_file(path);
    }
}

/// Whether `pid` is a live process (not a zombie) whose command line contains the argument
/// `marker`, if given. Right after a spawn the command line may still be empty for a moment, so
/// a child not yet reaped is checked without a marker (its pid cannot have been reused).
pub(crate) fn alive(pid: u32, marker: Option<&OsStr>) -> bool {
    let proc = Path::new("/proc").join(pid.to_string());
    if !Path::new("/proc/self").exists() {
        return pid_exists(pid);
    }
    let Ok(stat) = std::fs::read_to_string(proc.join("stat")) else {
        return false;
    };
    // `pid (comm) S …`: the state follows the last parenthesis (comm may contain spaces).
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    if matches!(state, None | Some('Z' | 'X' | 'x')) {
        return false;
    }
    let Some(marker) = marker else {
        return true;
    };
    let Ok(cmdline) = std::fs::read(proc.join("cmdline")) else {
        return false;
    };
    cmdline
        .split(|b| *b == 0)
        .any(|arg| arg == marker.as_bytes())
}

fn pid_exists(pid: u32) -> bool {
    !matches!(signal::kill(to_pid(pid), None), Err(Errno::ESRCH))
}

fn to_pid(pid: u32) -> Pid {
    Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX))
}

/// Sends `sig` to `pid`; `Ok(false)` if there is no such process.
pub(crate) fn send(pid: u32, sig: Signal) -> Result<bool, DevnetError> {
    match signal::kill(to_pid(pid), sig) {
        Ok(()) => Ok(true),
        Err(Errno::ESRCH) => Ok(false),
        Err(errno) => Err(DevnetError::Signal { pid, errno }),
    }
}

/// Spawns `exe ARGS…` with stdout and stderr appended to `log`, in its own process group (so a
/// Ctrl-C in the terminal reaches only the supervisor, which then stops its children in order).
pub(crate) fn spawn(
    exe: &Path,
    args: &[&OsStr],
    cwd: &Path,
    log: &Path,
    name: &str,
) -> Result<Child, DevnetError> {
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir).map_err(DevnetError::io(dir))?;
    }
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(DevnetError::io(log))?;
    writeln!(
        out,
        "--- floe-devnet: starting {name} at {} ms since the unix epoch ---",
        crate::manifest::now_ms()
    )
    .map_err(DevnetError::io(log))?;
    let err = out.try_clone().map_err(DevnetError::io(log))?;
    Command::new(exe)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|source| DevnetError::Spawn {
            name: name.to_owned(),
            source,
        })
}

/// The last `lines` lines of a log file (at most its last 64 KiB), or a note why not.
pub fn log_tail(path: &Path, lines: usize) -> String {
    const WINDOW: u64 = 64 * 1024;
    let read = || -> std::io::Result<String> {
        let mut f = std::fs::File::open(path)?;
        let len = f.metadata()?.len();
        f.seek(SeekFrom::Start(len.saturating_sub(WINDOW)))?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    };
    match read() {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liveness_checks_the_command_line_and_zombies() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("logs/sleep.log");
        let marker = OsStr::new("1000");
        let mut child = spawn(Path::new("sleep"), &[marker], dir.path(), &log, "sleep").unwrap();
        let pid = child.id();
        assert!(alive(pid, None));
        // The command line appears a moment after `spawn` returns (the kernel sets it up
        // after closing the close-on-exec pipe `spawn` waits on).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !alive(pid, Some(marker)) {
            assert!(std::time::Instant::now() < deadline);
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert!(!alive(pid, Some(OsStr::new("999"))), "wrong marker");
        assert!(send(pid, Signal::SIGKILL).unwrap());
        // Until it is reaped the process is a zombie: not alive.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while alive(pid, None) {
            assert!(std::time::Instant::now() < deadline);
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        child.wait().unwrap();
        assert!(
            !send(pid, Signal::SIGTERM).unwrap(),
            "reaped: no such process"
        );
        assert!(log_tail(&log, 5).contains("starting sleep"));
    }

    #[test]
    fn pid_files_and_tails() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("run/x.pid");
        assert_eq!(read_pid(&p), None);
        write_pid(&p, 42).unwrap();
        assert_eq!(read_pid(&p), Some(42));
        remove_pid(&p, Some(41));
        assert_eq!(read_pid(&p), Some(42), "names another pid: kept");
        remove_pid(&p, Some(42));
        assert_eq!(read_pid(&p), None);

        let log = dir.path().join("a.log");
        std::fs::write(&log, "1\n2\n3\n4\n").unwrap();
        assert_eq!(log_tail(&log, 2), "3\n4");
        assert_eq!(log_tail(&log, 10), "1\n2\n3\n4");
        assert!(log_tail(&dir.path().join("none"), 2).contains("cannot read"));
    }
}
