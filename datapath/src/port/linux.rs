//! Linux netdev plumbing shared by the AF_PACKET and TAP ports: interface ioctls (index, MTU,
//! flags, MAC address), errno classification, and `Link`, the per-port state that decides
//! whether a frame fits the device and whether the device has vanished.
//!
//! Invariants: nothing here panics on a bad name or errno; names longer than `IFNAMSIZ - 1`
//! give `InvalidInput`. Ioctls go through a short-lived `AF_INET` datagram socket of the
//! calling thread's network namespace, so call them from the namespace the device lives in.
//! They are slow-path only (open, `refresh`, error handling), never per packet.

use crate::packet::{Packet, GSO_NONE};
use crate::wire::MacAddr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Ethernet header plus one VLAN tag: the most a frame may carry on top of the MTU.
pub const L2_OVERHEAD: usize = 14 + 4;

fn ifreq(name: &str) -> io::Result<libc::ifreq> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.as_bytes().contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid interface name {name:?}"),
        ));
    }
    // SAFETY: ifreq is a plain C struct (name array + union of plain data); all-zero is valid.
    let mut r: libc::ifreq = unsafe { core::mem::zeroed() };
    for (d, s) in r.ifr_name.iter_mut().zip(name.bytes()) {
        *d = s as libc::c_char;
    }
    Ok(r)
}

fn ctl_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh, valid descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn ioctl(req: libc::c_ulong, r: &mut libc::ifreq) -> io::Result<()> {
    let s = ctl_socket()?;
    // SAFETY: `r` is a valid, writable ifreq for the whole call; every request used here
    // reads/writes only an ifreq.
    if unsafe { libc::ioctl(s.as_raw_fd(), req as _, r as *mut libc::ifreq) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The ifindex of `name`, or `NotFound`-like `ENODEV`.
pub fn if_index(name: &str) -> io::Result<u32> {
    let r = ifreq(name)?;
    // SAFETY: ifr_name is NUL-terminated (ifreq() leaves at least one trailing zero).
    let i = unsafe { libc::if_nametoindex(r.ifr_name.as_ptr()) };
    if i == 0 {
        return Err(io::Error::from_raw_os_error(libc::ENODEV));
    }
    Ok(i)
}

/// The MTU of `name`.
pub fn mtu(name: &str) -> io::Result<usize> {
    let mut r = ifreq(name)?;
    ioctl(libc::SIOCGIFMTU, &mut r)?;
    // SAFETY: SIOCGIFMTU filled the ifru_mtu member of the union.
    let m = unsafe { r.ifr_ifru.ifru_mtu };
    Ok(usize::try_from(m).unwrap_or(0))
}

/// Set the MTU of `name` (`mtu_request`).
pub fn set_mtu(name: &str, mtu: u32) -> io::Result<()> {
    let mut r = ifreq(name)?;
    r.ifr_ifru.ifru_mtu =
        libc::c_int::try_from(mtu).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    ioctl(libc::SIOCSIFMTU, &mut r)
}

/// Set `IFF_UP` (and keep the other flags).
pub fn set_up(name: &str) -> io::Result<()> {
    let mut r = ifreq(name)?;
    ioctl(libc::SIOCGIFFLAGS, &mut r)?;
    // SAFETY: SIOCGIFFLAGS filled the ifru_flags member; we write back the same member.
    unsafe { r.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    ioctl(libc::SIOCSIFFLAGS, &mut r)
}

/// Set the Ethernet address of `name`.
pub fn set_mac(name: &str, mac: MacAddr) -> io::Result<()> {
    let mut r = ifreq(name)?;
    // SAFETY: writing the sockaddr member of a zeroed union; sockaddr is plain data.
    unsafe {
        r.ifr_ifru.ifru_hwaddr.sa_family = libc::ARPHRD_ETHER;
        for (d, s) in r.ifr_ifru.ifru_hwaddr.sa_data.iter_mut().zip(mac.0) {
            *d = s as libc::c_char;
        }
    }
    ioctl(libc::SIOCSIFHWADDR, &mut r)
}

/// The Ethernet address of `name`.
pub fn mac(name: &str) -> io::Result<MacAddr> {
    let mut r = ifreq(name)?;
    ioctl(libc::SIOCGIFHWADDR, &mut r)?;
    let mut m = [0u8; 6];
    // SAFETY: SIOCGIFHWADDR filled the ifru_hwaddr member.
    let d = unsafe { r.ifr_ifru.ifru_hwaddr.sa_data };
    for (o, s) in m.iter_mut().zip(d) {
        *o = s as u8;
    }
    Ok(MacAddr(m))
}

/// Errors that mean the device is gone or down rather than that one frame was bad.
pub fn is_link_errno(e: i32) -> bool {
    matches!(
        e,
        libc::ENODEV | libc::ENXIO | libc::ENETDOWN | libc::EBADFD | libc::EIO
    )
}

/// "could not open network device NAME (No such device)", in the words of OVS.
pub fn open_error_message(name: &str, e: &io::Error) -> String {
    let text = e.to_string();
    let text = match text.find(" (os error") {
        Some(i) => &text[..i],
        None => &text,
    };
    format!("could not open network device {name} ({text})")
}

/// What a port knows about its device between syscalls.
#[derive(Debug)]
pub struct Link {
    name: String,
    ifindex: u32,
    mtu: usize,
    error: Option<String>,
}

impl Link {
    /// Look `name` up now (it must exist).
    pub fn open(name: &str) -> io::Result<Link> {
        let ifindex = if_index(name)?;
        Ok(Link {
            name: name.to_string(),
            ifindex,
            mtu: mtu(name)?,
            error: None,
        })
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }
    pub fn mtu(&self) -> usize {
        self.mtu
    }
    /// Set once the device has vanished.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }
    pub fn vanished(&self) -> bool {
        self.error.is_some()
    }
    /// A non-GSO frame longer than MTU + Ethernet header cannot be sent, except that an
    /// 802.1Q-tagged frame may be 4 bytes longer (the kernel's rule for packet sockets).
    #[inline]
    pub fn too_big(&self, p: &Packet) -> bool {
        let d = p.data();
        let limit = if d.len() >= 14 && d[12..14] == [0x81, 0x00] {
            self.mtu + L2_OVERHEAD
        } else {
            self.mtu + 14
        };
        p.meta.offload.gso_type == GSO_NONE && d.len() > limit
    }
    /// Re-read the MTU, and check the device still exists under the same index. Returns
    /// false (and records the error) when it vanished.
    pub fn refresh(&mut self) -> bool {
        match if_index(&self.name) {
            Ok(i) if i == self.ifindex => {
                if let Ok(m) = mtu(&self.name) {
                    self.mtu = m;
                }
                true
            }
            Ok(_) | Err(_) => {
                self.mark_vanished();
                false
            }
        }
    }
    /// Re-read the MTU if the name still resolves to our device (in the calling thread's
    /// namespace); otherwise keep the old value. Never marks the link vanished.
    pub fn refresh_mtu(&mut self) {
        if if_index(&self.name).ok() == Some(self.ifindex) {
            if let Ok(m) = mtu(&self.name) {
                self.mtu = m;
            }
        }
    }
    /// Record that the device is gone.
    pub fn mark_vanished(&mut self) {
        if self.error.is_none() {
            let e = io::Error::from_raw_os_error(libc::ENODEV);
            self.error = Some(open_error_message(&self.name, &e));
        }
    }
    /// Called with an errno from a send/receive that `is_link_errno`: distinguishes a
    /// vanished device (recorded) from one that is merely down. Returns true if vanished.
    pub fn on_link_errno(&mut self) -> bool {
        !self.refresh()
    }
}

/// The calling thread's last OS error number.
pub fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// `setsockopt` of one `int` option.
pub fn setopt(fd: RawFd, level: libc::c_int, opt: libc::c_int, v: libc::c_int) -> io::Result<()> {
    // SAFETY: `v` lives across the call and its size is passed.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            opt,
            (&v as *const libc::c_int).cast(),
            core::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `getsockopt` of one `int` option.
pub fn getopt_int(fd: RawFd, level: libc::c_int, opt: libc::c_int) -> io::Result<libc::c_int> {
    let mut v: libc::c_int = 0;
    let mut len = core::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: the option writes one int into `v`; `len` holds its size.
    let r = unsafe {
        libc::getsockopt(
            fd,
            level,
            opt,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(v)
}

/// An IPv4 socket address.
pub fn sockaddr_in(a: std::net::Ipv4Addr, port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(a).to_be(),
        },
        sin_zero: [0; 8],
    }
}

/// The address and port of a `sockaddr_in`.
pub fn from_sockaddr_in(sa: &libc::sockaddr_in) -> (std::net::Ipv4Addr, u16) {
    (
        std::net::Ipv4Addr::from(u32::from_be(sa.sin_addr.s_addr)),
        u16::from_be(sa.sin_port),
    )
}

/// A new IPv4 socket (`SOCK_CLOEXEC` added) of type `ty` and protocol `proto`.
pub fn inet_socket(ty: libc::c_int, proto: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2) call; checked below.
    let raw = unsafe { libc::socket(libc::AF_INET, ty | libc::SOCK_CLOEXEC, proto) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// The local address and port of an IPv4 socket.
pub fn local_addr(fd: RawFd) -> io::Result<(std::net::Ipv4Addr, u16)> {
    let mut sa = sockaddr_in(std::net::Ipv4Addr::UNSPECIFIED, 0);
    let mut len = core::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: getsockname writes at most `len` bytes into `sa`, a sockaddr_in.
    let r = unsafe { libc::getsockname(fd, (&mut sa as *mut libc::sockaddr_in).cast(), &mut len) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(from_sockaddr_in(&sa))
}

/// Socket address structures that `bind_to` and `connect_to` pass to the kernel.
pub trait SockAddr {}
impl SockAddr for libc::sockaddr_ll {}
impl SockAddr for libc::sockaddr_in {}
impl SockAddr for libc::sockaddr_nl {}

type AddrCall =
    unsafe extern "C" fn(libc::c_int, *const libc::sockaddr, libc::socklen_t) -> libc::c_int;

fn addr_call<A: SockAddr>(call: AddrCall, fd: RawFd, sa: &A) -> io::Result<()> {
    // SAFETY: `A` is one of the sockaddr structures (the sealed list above); the pointer and
    // its exact size describe `sa`, which lives across the call; the kernel only reads it.
    let r = unsafe {
        call(
            fd,
            (sa as *const A).cast(),
            core::mem::size_of::<A>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `bind(2)` to `sa`.
pub fn bind_to<A: SockAddr>(fd: RawFd, sa: &A) -> io::Result<()> {
    addr_call(libc::bind, fd, sa)
}

/// `connect(2)` to `sa`.
pub fn connect_to<A: SockAddr>(fd: RawFd, sa: &A) -> io::Result<()> {
    addr_call(libc::connect, fd, sa)
}

/// One non-blocking `recvmmsg` into `msgs`: the number of messages received, or the error
/// number of a real failure (EAGAIN and EINTR are "nothing now": `Ok(0)`).
pub fn recvmmsg_batch(fd: RawFd, msgs: &mut [libc::mmsghdr]) -> Result<usize, i32> {
    // SAFETY: the caller built `msgs` over iovecs (and control buffers) that point into
    // buffers it owns and keeps unmoved for this call, with matching lengths; the count
    // matches the slice.
    let r = unsafe {
        libc::recvmmsg(
            fd,
            msgs.as_mut_ptr(),
            msgs.len() as libc::c_uint,
            libc::MSG_DONTWAIT,
            core::ptr::null_mut(),
        )
    };
    if r >= 0 {
        return Ok(r as usize);
    }
    match errno() {
        libc::EAGAIN | libc::EINTR => Ok(0),
        e => Err(e),
    }
}

/// What `sendmmsg_all` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendOutcome {
    /// Messages the kernel took.
    pub sent: usize,
    /// Messages refused one by one (counted in `tx_errors`).
    pub refused: u64,
    /// The last error number seen, for the caller's follow-up (refresh an MTU, notice a
    /// vanished device).
    pub last_errno: Option<i32>,
}

/// Send every message of `msgs` with `sendmmsg`, counting into `stats`: `tx_bytes` for what
/// went out (`bytes[i]` is message i's frame length). EINTR retries; a full queue
/// (EAGAIN/ENOBUFS) drops the rest of the burst into `tx_dropped`; an error for which
/// `fatal(errno)` holds does the same; any other error refuses just that message
/// (`tx_errors`) and the rest are still sent.
pub fn sendmmsg_all(
    fd: RawFd,
    msgs: &mut [libc::mmsghdr],
    bytes: &[usize],
    stats: &mut crate::port::PortStats,
    fatal: impl Fn(i32) -> bool,
) -> SendOutcome {
    let k = msgs.len();
    let mut out = SendOutcome::default();
    let mut i = 0;
    while i < k {
        // SAFETY: the caller built `msgs` over iovecs (and addresses) that stay alive and
        // unmoved for this call; the kernel only reads them, and the count matches the slice.
        let r = unsafe {
            libc::sendmmsg(
                fd,
                msgs[i..].as_mut_ptr(),
                (k - i) as libc::c_uint,
                libc::MSG_DONTWAIT,
            )
        };
        if r > 0 {
            let r = r as usize;
            stats.tx_bytes += bytes[i..i + r].iter().sum::<usize>() as u64;
            out.sent += r;
            i += r;
            continue;
        }
        let e = errno();
        match e {
            libc::EINTR => continue,
            libc::EAGAIN | libc::ENOBUFS => {
                stats.tx_dropped += (k - i) as u64;
                break;
            }
            _ if fatal(e) => {
                out.last_errno = Some(e);
                stats.tx_dropped += (k - i) as u64;
                break;
            }
            _ => {
                out.last_errno = Some(e);
                out.refused += 1;
                stats.tx_errors += 1;
                i += 1;
            }
        }
    }
    out
}

/// An epoll descriptor that is readable when any of `fds` is (a port with several sources
/// hands the PMD one descriptor to wait on). The caller keeps `fds` open at least as long.
pub fn epoll_over(fds: &[RawFd]) -> io::Result<OwnedFd> {
    // SAFETY: plain epoll_create1(2); checked below.
    let raw = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor owned by nothing else.
    let ep = unsafe { OwnedFd::from_raw_fd(raw) };
    for (i, &fd) in fds.iter().enumerate() {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: i as u64,
        };
        // SAFETY: both descriptors are open; `ev` is a valid event for the call.
        if unsafe { libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(ep)
}

/// A non-blocking rtnetlink socket subscribed to link changes (`RTMGRP_LINK`): readable when a
/// netdev of this network namespace appeared, changed, vanished or left for another one.
#[derive(Debug)]
pub struct LinkEvents {
    fd: OwnedFd,
}

impl LinkEvents {
    pub fn open() -> io::Result<LinkEvents> {
        // SAFETY: plain socket(2) call; checked below.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: sockaddr_nl is plain data; all-zero is valid.
        let mut sa: libc::sockaddr_nl = unsafe { core::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        sa.nl_groups = libc::RTMGRP_LINK as u32;
        bind_to(fd.as_raw_fd(), &sa)?;
        Ok(LinkEvents { fd })
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Read every queued notification; true if there was any (or the queue overflowed:
    /// events were lost, so assume something changed).
    pub fn drain(&self) -> bool {
        let mut buf = [0u8; 8192];
        let mut any = false;
        loop {
            // SAFETY: reads into a valid local buffer of the given size from an open,
            // non-blocking socket.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n > 0 {
                any = true;
                continue;
            }
            if n < 0 && errno() == libc::ENOBUFS {
                any = true;
                continue;
            }
            return any;
        }
    }
}

/// A non-blocking eventfd: readable from [`wake`] until [`unwake`] (a wake-up a port gives
/// its PMD for work that arrives from elsewhere, e.g. a reply another PMD queued).
pub fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: plain eventfd(2) call; checked below.
    let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Make an [`eventfd`] readable.
pub fn wake(ev: &OwnedFd) {
    let one = 1u64.to_ne_bytes();
    // SAFETY: writes 8 bytes from a valid buffer to an open eventfd; a full counter
    // (EAGAIN) means it is readable already.
    let _ = unsafe { libc::write(ev.as_raw_fd(), one.as_ptr().cast(), one.len()) };
}

/// Make an [`eventfd`] not readable again.
pub fn unwake(ev: &OwnedFd) {
    let mut b = [0u8; 8];
    // SAFETY: reads 8 bytes into a valid buffer from an open, non-blocking eventfd.
    let _ = unsafe { libc::read(ev.as_raw_fd(), b.as_mut_ptr().cast(), b.len()) };
}

/// A control-message buffer aligned for `cmsghdr`.
#[repr(C, align(8))]
#[derive(Debug, Clone, Copy)]
pub struct CmsgBuf<const N: usize>(pub [u8; N]);

impl<const N: usize> Default for CmsgBuf<N> {
    fn default() -> Self {
        CmsgBuf([0; N])
    }
}

/// Call `f(level, type, data)` for every control message of a `msghdr` the kernel filled
/// (its `msg_control` must point into a buffer the caller owns, such as a [`CmsgBuf`]).
pub fn for_each_cmsg(h: &libc::msghdr, mut f: impl FnMut(libc::c_int, libc::c_int, &[u8])) {
    if h.msg_control.is_null() || h.msg_controllen == 0 {
        return;
    }
    // SAFETY: `h` was filled by recvmsg/recvmmsg over the caller's control buffer: the CMSG_*
    // helpers stay within msg_controllen, and each cmsg_len is checked against what is left
    // before its data is read.
    unsafe {
        let end = (h.msg_control as *const u8).add(h.msg_controllen);
        let mut c = libc::CMSG_FIRSTHDR(h);
        while !c.is_null() {
            let data = libc::CMSG_DATA(c);
            let hdr_len = data as usize - c as usize;
            let len = (*c).cmsg_len as usize;
            if len < hdr_len || (c as *const u8).add(len) > end {
                break;
            }
            f(
                (*c).cmsg_level,
                (*c).cmsg_type,
                core::slice::from_raw_parts(data, len - hdr_len),
            );
            c = libc::CMSG_NXTHDR(h, c);
        }
    }
}

/// Append a control message (`level`, `ty`, `data`) to `buf` after its first `used` bytes;
/// returns the new used length (what `msg_controllen` must be), or `used` unchanged when it
/// does not fit.
pub fn cmsg_put<const N: usize>(
    buf: &mut CmsgBuf<N>,
    used: usize,
    level: libc::c_int,
    ty: libc::c_int,
    data: &[u8],
) -> usize {
    // SAFETY: CMSG_SPACE/CMSG_LEN are pure arithmetic on a length.
    let (space, len) = unsafe {
        (
            libc::CMSG_SPACE(data.len() as u32) as usize,
            libc::CMSG_LEN(data.len() as u32) as usize,
        )
    };
    if used + space > N {
        return used;
    }
    let hdr = libc::cmsghdr {
        cmsg_len: len as _,
        cmsg_level: level,
        cmsg_type: ty,
    };
    let at = &mut buf.0[used..used + space];
    at.fill(0);
    let hl = len - data.len();
    // SAFETY: `at` holds `space` ≥ `len` bytes; the header is written unaligned-safe and the
    // data right after it, where CMSG_DATA puts it (header length `hl`).
    unsafe {
        core::ptr::write_unaligned(at.as_mut_ptr().cast::<libc::cmsghdr>(), hdr);
    }
    at[hl..hl + data.len()].copy_from_slice(data);
    used + space
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(ifreq("").is_err());
        assert!(ifreq("0123456789abcdef").is_err());
        assert!(ifreq("a\0b").is_err());
        assert!(ifreq("0123456789abcde").is_ok());
        assert_eq!(
            if_index("rvs-no-such-dev").unwrap_err().raw_os_error(),
            Some(libc::ENODEV)
        );
    }

    #[test]
    fn loopback_is_visible() {
        assert!(if_index("lo").unwrap() > 0);
        assert!(mtu("lo").unwrap() >= 1500);
    }

    #[test]
    fn message_matches_ovs() {
        let e = io::Error::from_raw_os_error(libc::ENODEV);
        assert_eq!(
            open_error_message("eth9", &e),
            "could not open network device eth9 (No such device)"
        );
    }
}
