//! GRE tunnel ports (being written).

use crate::port::Port;
use std::collections::BTreeMap;

/// Open a GRE tunnel port named `name` with the interface's `options`.
pub fn open(
    name: &str,
    options: &BTreeMap<String, String>,
    port_no: u16,
) -> std::io::Result<Box<dyn Port>> {
    let _ = (options, port_no);
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        format!("{name}: GRE is not built yet"),
    ))
}
