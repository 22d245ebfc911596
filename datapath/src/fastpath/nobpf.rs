//! The kernel fast path's BPF side in a build without the `fastpath` feature: loading fails
//! with a reason, so the datapath runs as it always did (userspace only).

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};

/// Never constructed: there is nothing to load.
#[derive(Debug)]
pub(super) enum Loaded {}

impl Loaded {
    pub(super) fn load() -> Result<Loaded, String> {
        Err("rvs was built without the fastpath feature".into())
    }

    pub(super) fn update(&self, _key: &[u8], _value: &[u8]) -> io::Result<()> {
        match *self {}
    }

    pub(super) fn lookup(&self, _key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        match *self {}
    }

    pub(super) fn delete(&self, _key: &[u8]) -> io::Result<()> {
        match *self {}
    }

    pub(super) fn attach_tcx(&self, _ifindex: u32, _egress: bool) -> io::Result<OwnedFd> {
        match *self {}
    }

    pub(super) fn socket_filter(&self) -> BorrowedFd<'_> {
        match *self {}
    }
}

/// Without the feature no filter exists to attach; detaching is a no-op.
pub fn set_socket_filter(_sock: BorrowedFd<'_>, prog: Option<BorrowedFd<'_>>) -> io::Result<()> {
    match prog {
        Some(_) => Err(io::Error::from(io::ErrorKind::Unsupported)),
        None => Ok(()),
    }
}

/// Without the feature rvs cannot ask the kernel.
pub fn tcx_programs(_ifindex: u32, _egress: bool) -> io::Result<Vec<String>> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}
