//! Logging with levels, in OVS's line format:
//! `2026-11-23T10:18:14.123Z|00001|rvsd|INFO|message`.
//!
//! One global sink (stderr by default, or a file after `--log-file`), guarded by a mutex;
//! logging happens on the control thread only, never per packet.

use std::io::Write;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::Mutex;

/// Severity, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    Err = 0,
    Warn = 1,
    Info = 2,
    Dbg = 3,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Err => "ERR",
            Level::Warn => "WARN",
            Level::Info => "INFO",
            Level::Dbg => "DBG",
        }
    }
    /// Parse OVS level names (`err`, `warn`, `info`, `dbg`).
    pub fn parse(s: &str) -> Option<Level> {
        match s.to_ascii_lowercase().as_str() {
            "err" | "error" => Some(Level::Err),
            "warn" | "warning" => Some(Level::Warn),
            "info" => Some(Level::Info),
            "dbg" | "debug" => Some(Level::Dbg),
            _ => None,
        }
    }
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);
static SEQ: AtomicU64 = AtomicU64::new(0);
static FILE: Mutex<Option<std::fs::File>> = Mutex::new(None);

/// Set the most verbose level that is written.
pub fn set_level(l: Level) {
    LEVEL.store(l as u8, Relaxed);
}

/// Send log lines to `path` (appending) instead of stderr.
pub fn set_file(path: &std::path::Path) -> std::io::Result<()> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    *FILE.lock().unwrap_or_else(|e| e.into_inner()) = Some(f);
    Ok(())
}

/// Write one line at `level` from `module`.
pub fn log(level: Level, module: &str, msg: &str) {
    if level as u8 > LEVEL.load(Relaxed) {
        return;
    }
    let n = SEQ.fetch_add(1, Relaxed) + 1;
    let line = format!("{}|{n:05}|{module}|{}|{msg}\n", timestamp(), level.name());
    let mut f = FILE.lock().unwrap_or_else(|e| e.into_inner());
    match f.as_mut() {
        Some(file) => {
            let _ = file.write_all(line.as_bytes());
        }
        None => {
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }
}

/// Current UTC time as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn timestamp() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let (y, m, dd) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{dd:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Current UTC time as OVS's console log format has it: `YYYY-MM-DDTHH:MM:SSZ`.
pub fn console_timestamp() -> String {
    let t = timestamp();
    match t.split_once('.') {
        Some((secs, _)) => format!("{secs}Z"),
        None => t,
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `info!("…", args)` style helpers.
#[macro_export]
macro_rules! log_at {
    ($lvl:expr, $($arg:tt)*) => { $crate::log::log($lvl, "rvsd", &format!($($arg)*)) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_415), (2025, 11, 23));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn levels() {
        assert_eq!(Level::parse("DBG"), Some(Level::Dbg));
        assert_eq!(Level::parse("nope"), None);
        assert!(timestamp().ends_with('Z'));
    }
}
