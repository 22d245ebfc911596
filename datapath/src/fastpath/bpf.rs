//! The BPF side of the kernel fast path: the object `build.rs` compiled from
//! `bpf/fastpath.bpf.c`, loaded with libbpf-rs; the flow map's raw I/O; TCX attachment of the
//! tc program to a netdev; the socket filter on an AF_PACKET socket.
//!
//! Why libbpf-rs: libbpf is the kernel's reference loader (BTF-defined maps, CO-RE), and the
//! tree already builds libbpf 1.5.1 for AF_XDP (`libxdp-sys` pins it), so the fast path adds
//! only the safe wrapper, not a second BPF stack as aya would. The per-packet cost is the
//! kernel program's alone; the loader only matters at start-up and for map updates (one
//! `bpf(2)` call either way).
//!
//! Why TCX rather than a clsact qdisc with a cls_bpf filter: a TCX attachment is a BPF link
//! owned by a file descriptor, so the kernel detaches the program when rvs exits — also on
//! `kill -9` — and no stale filter can keep forwarding for a dead switch. It needs no qdisc
//! and runs at the same hook (the kernel here has `CONFIG_NET_XGRESS`).

use libbpf_rs::{MapCore, MapFlags, MapHandle, ObjectBuilder};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// The compiled object (see `build.rs`).
static OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/fastpath.bpf.o"));

/// The loaded programs and their flow map.
#[derive(Debug)]
pub(super) struct Loaded {
    flows: MapHandle,
    tc: OwnedFd,
    sock: OwnedFd,
}

fn other(what: &str, e: impl core::fmt::Display) -> String {
    format!("{what}: {e}")
}

impl Loaded {
    /// Load the object into the kernel. Fails without CAP_BPF/CAP_NET_ADMIN (or CAP_SYS_ADMIN),
    /// or on a kernel without the needed program types; the message says which step failed.
    pub(super) fn load() -> Result<Loaded, String> {
        // libbpf would print its own diagnostics on stderr; the error we return carries them.
        libbpf_rs::set_print(None);
        let open = ObjectBuilder::default()
            .open_memory(OBJECT)
            .map_err(|e| other("cannot open the fast path's BPF object", e))?;
        let obj = open
            .load()
            .map_err(|e| other("cannot load the fast path's BPF programs", e))?;
        let flows = obj
            .maps()
            .find(|m| m.name() == "rvs_flows")
            .ok_or("the BPF object has no rvs_flows map")
            .and_then(|m| MapHandle::try_from(&m).map_err(|_| "cannot hold the rvs_flows map"))?;
        let prog = |name: &str| -> Result<OwnedFd, String> {
            let p = obj
                .progs()
                .find(|p| p.name() == name)
                .ok_or_else(|| format!("the BPF object has no {name} program"))?;
            p.as_fd()
                .try_clone_to_owned()
                .map_err(|e| other("cannot hold a BPF program", e))
        };
        Ok(Loaded {
            flows,
            tc: prog("rvs_tc")?,
            sock: prog("rvs_sock")?,
        })
    }

    pub(super) fn update(&self, key: &[u8], value: &[u8]) -> io::Result<()> {
        self.flows
            .update(key, value, MapFlags::ANY)
            .map_err(|e| io::Error::other(e.to_string()))
    }

    pub(super) fn lookup(&self, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        self.flows
            .lookup(key, MapFlags::ANY)
            .map_err(|e| io::Error::other(e.to_string()))
    }

    pub(super) fn delete(&self, key: &[u8]) -> io::Result<()> {
        self.flows
            .delete(key)
            .map_err(|e| io::Error::other(e.to_string()))
    }

    /// Attach the tc program to `ifindex`'s ingress (or egress) with a TCX link; closing the
    /// returned descriptor detaches it.
    pub(super) fn attach_tcx(&self, ifindex: u32, egress: bool) -> io::Result<OwnedFd> {
        let attach_type = if egress {
            libbpf_sys::BPF_TCX_EGRESS
        } else {
            libbpf_sys::BPF_TCX_INGRESS
        };
        // SAFETY: bpf_link_create only reads its arguments (a valid program fd we own, an
        // ifindex, and a null options pointer, which libbpf accepts as "defaults"); it returns
        // a new descriptor or a negative errno and keeps no pointer.
        let fd = unsafe {
            libbpf_sys::bpf_link_create(
                self.tc.as_raw_fd(),
                ifindex as i32,
                attach_type,
                core::ptr::null(),
            )
        };
        if fd < 0 {
            return Err(io::Error::from_raw_os_error(-fd));
        }
        // SAFETY: `fd` is a fresh descriptor bpf_link_create returned; nothing else owns it.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// The socket filter program.
    pub(super) fn socket_filter(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

/// Attach `prog` as the socket filter of `sock` (`SO_ATTACH_BPF`), or detach the socket's
/// filter (`None`).
pub fn set_socket_filter(sock: BorrowedFd<'_>, prog: Option<BorrowedFd<'_>>) -> io::Result<()> {
    let rc = match prog {
        Some(p) => {
            let fd: libc::c_int = p.as_raw_fd();
            // SAFETY: setsockopt reads sizeof(int) bytes from a live local; both fds are
            // valid for the duration of the call (borrowed).
            unsafe {
                libc::setsockopt(
                    sock.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_ATTACH_BPF,
                    (&fd as *const libc::c_int).cast(),
                    core::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            }
        }
        None => {
            let zero: libc::c_int = 0;
            // SAFETY: as above; SO_DETACH_BPF ignores the value.
            unsafe {
                libc::setsockopt(
                    sock.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_DETACH_BPF,
                    (&zero as *const libc::c_int).cast(),
                    core::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            }
        }
    };
    if rc < 0 {
        let e = io::Error::last_os_error();
        // Detaching a socket that has no filter is not an error for us.
        if prog.is_none() && e.raw_os_error() == Some(libc::ENOENT) {
            return Ok(());
        }
        return Err(e);
    }
    Ok(())
}

/// Names of the BPF programs attached to `ifindex`'s TCX ingress (or egress) hook, in run
/// order (`bpf_prog_query`, then the program names from the kernel's program list).
pub fn tcx_programs(ifindex: u32, egress: bool) -> io::Result<Vec<String>> {
    let attach_type = if egress {
        libbpf_sys::BPF_TCX_EGRESS
    } else {
        libbpf_sys::BPF_TCX_INGRESS
    };
    let mut ids = [0u32; 64];
    // SAFETY: bpf_prog_query_opts is plain data; all-zero is its documented default.
    let mut opts: libbpf_sys::bpf_prog_query_opts = unsafe { core::mem::zeroed() };
    opts.sz = core::mem::size_of::<libbpf_sys::bpf_prog_query_opts>() as libbpf_sys::size_t;
    opts.prog_ids = ids.as_mut_ptr();
    opts.__bindgen_anon_1.count = ids.len() as u32;
    // SAFETY: `opts` points at a live, sized struct whose prog_ids buffer holds `count` ids;
    // the kernel writes at most that many and the new count, and keeps no pointer.
    let rc = unsafe { libbpf_sys::bpf_prog_query_opts(ifindex as i32, attach_type, &mut opts) };
    if rc < 0 {
        return Err(io::Error::from_raw_os_error(-rc));
    }
    // SAFETY: both union members are the same u32, written by the kernel.
    let n = (unsafe { opts.__bindgen_anon_1.count } as usize).min(ids.len());
    let names: std::collections::HashMap<u32, String> = libbpf_rs::query::ProgInfoIter::default()
        .map(|p| (p.id, p.name.to_string_lossy().into_owned()))
        .collect();
    Ok(ids[..n]
        .iter()
        .map(|id| names.get(id).cloned().unwrap_or_else(|| format!("id:{id}")))
        .collect())
}
