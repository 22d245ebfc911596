//! TAP port: a TAP device that rvs creates (non-persistent: it disappears when the port is
//! dropped and its file descriptor closed), read and written with `IFF_VNET_HDR` so checksum
//! and GSO metadata cross in both directions. `TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO4 |
//! TUN_F_TSO6 | TUN_F_TSO_ECN)` tells the kernel rvs accepts partial checksums and TCP
//! super-frames, so the host stack hands over 64 KB frames instead of segmenting them.
//!
//! I/O: the tun fd is non-blocking; rx calls `readv` (vnet header into a scratch array, frame
//! into `Packet::rx_area`) once per frame up to the batch room; tx calls `writev` once per
//! frame. Frames over MTU + 18 that are not GSO are dropped and counted; the MTU is read at
//! create, on `EMSGSIZE`/`EINVAL`, and by `refresh()`.
//!
//! If someone deletes the device (`ip link del`), reads and writes fail with `EBADFD` and the
//! tun fd polls as readable-with-error forever. The TAP may live in another namespace than
//! the thread using it (e.g. moved into a "VM" namespace), so vanishing is judged from the
//! tun file alone, never from a name lookup. The port then records "could not open
//! network device NAME (No such device)" in `error()`, replaces its descriptor with one that
//! never becomes readable (so an idle-waiting PMD does not spin), and from then on rx returns
//! nothing and tx drops and counts. A device that is merely down (`EIO`) just drops.
//!
//! Thread-safety: a port is owned by one PMD at a time (`Send`, not shared).

use super::linux::{self, errno, Link};
use super::vnet::{self, VNET_HDR_LEN};
use super::{Port, PortStats};
use crate::packet::{Batch, PacketPool, MAX_FRAME};
use crate::wire::MacAddr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A datapath port on a TAP device it created.
#[derive(Debug)]
pub struct TapPort {
    fd: OwnedFd,
    port_no: u16,
    link: Link,
    stats: PortStats,
    hdr: [u8; VNET_HDR_LEN],
}

fn tun_ioctl(fd: RawFd, req: libc::Ioctl, arg: libc::c_ulong) -> io::Result<()> {
    // SAFETY: the TUN ioctls used with this helper take an integer argument by value.
    if unsafe { libc::ioctl(fd, req, arg) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl TapPort {
    /// Create TAP device `ifname` (empty: the kernel picks `tapN`) as datapath port
    /// `port_no`, with vnet headers and offloads enabled, and bring it up.
    pub fn create(ifname: &str, port_no: u16) -> io::Result<TapPort> {
        if ifname.len() >= libc::IFNAMSIZ || ifname.as_bytes().contains(&0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid interface name {ifname:?}"),
            ));
        }
        // SAFETY: the path is a NUL-terminated literal; the result is checked.
        let raw = unsafe {
            libc::open(
                c"/dev/net/tun".as_ptr(),
                libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: ifreq is plain data; all-zero is valid.
        let mut r: libc::ifreq = unsafe { core::mem::zeroed() };
        for (d, s) in r.ifr_name.iter_mut().zip(ifname.bytes()) {
            *d = s as libc::c_char;
        }
        r.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI | libc::IFF_VNET_HDR) as _;
        // SAFETY: TUNSETIFF reads and writes one ifreq, which lives across the call.
        if unsafe { libc::ioctl(raw, libc::TUNSETIFF, &mut r as *mut libc::ifreq) } < 0 {
            return Err(io::Error::last_os_error());
        }
        let name: String = r
            .ifr_name
            .iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8 as char)
            .collect();
        let sz: libc::c_int = VNET_HDR_LEN as libc::c_int;
        // SAFETY: TUNSETVNETHDRSZ reads one int through the pointer, which is valid.
        if unsafe { libc::ioctl(raw, libc::TUNSETVNETHDRSZ, &sz as *const libc::c_int) } < 0 {
            return Err(io::Error::last_os_error());
        }
        let offloads = libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_TSO6 | libc::TUN_F_TSO_ECN;
        tun_ioctl(raw, libc::TUNSETOFFLOAD, libc::c_ulong::from(offloads))?;
        linux::set_up(&name)?;
        let link = Link::open(&name)?;
        Ok(TapPort {
            fd,
            port_no,
            link,
            stats: PortStats::default(),
            hdr: [0; VNET_HDR_LEN],
        })
    }

    /// The datapath port number given at create.
    pub fn port_no(&self) -> u16 {
        self.port_no
    }

    /// Set the device's Ethernet address (SIOCSIFHWADDR).
    pub fn set_mac(&self, mac: MacAddr) -> io::Result<()> {
        linux::set_mac(self.link.name(), mac)
    }

    /// The device's Ethernet address.
    pub fn mac(&self) -> io::Result<MacAddr> {
        linux::mac(self.link.name())
    }

    /// The MTU last read from the device.
    pub fn mtu(&self) -> usize {
        self.link.mtu()
    }

    /// Re-read the MTU (when the device is still in the calling thread's namespace) and check
    /// the device still exists. Returns whether the port can pass traffic.
    pub fn refresh(&mut self) -> bool {
        if self.link.vanished() {
            return false;
        }
        // SAFETY: ifreq is plain data; all-zero is valid.
        let mut r: libc::ifreq = unsafe { core::mem::zeroed() };
        // SAFETY: TUNGETIFF writes one ifreq, which lives across the call.
        let rc = unsafe {
            libc::ioctl(
                self.fd.as_raw_fd(),
                libc::TUNGETIFF,
                &mut r as *mut libc::ifreq,
            )
        };
        if rc < 0 && errno() == libc::EBADFD {
            self.vanish();
            return false;
        }
        self.link.refresh_mtu();
        true
    }

    /// This port passes vnet headers to the kernel.
    pub fn accepts_vnet(&self) -> bool {
        true
    }

    /// Swap the dead tun descriptor for an eventfd that never becomes readable (a pipe would
    /// poll as HUP), keeping the descriptor number valid for whoever registered it.
    fn retire_fd(&mut self) {
        let Ok(ev) = linux::eventfd() else {
            return;
        };
        // SAFETY: both descriptors are valid; dup2 atomically replaces ours (closing the tun
        // file, which also removes it from any epoll set); the spare eventfd closes on drop.
        unsafe {
            libc::dup2(ev.as_raw_fd(), self.fd.as_raw_fd());
        }
    }

    fn vanish(&mut self) {
        self.link.mark_vanished();
        self.retire_fd();
    }

    /// The tun file works without a namespace lookup: `EBADFD` means the device was deleted
    /// (namespace-independent, so a TAP moved into another namespace is handled too), `EIO`
    /// means it is down, `EMSGSIZE`/`EINVAL` may mean the MTU changed.
    fn on_error(&mut self, e: i32) {
        match e {
            libc::EBADFD | libc::ENODEV | libc::ENXIO => self.vanish(),
            libc::EMSGSIZE | libc::EINVAL => self.link.refresh_mtu(),
            _ => {}
        }
    }
}

impl Port for TapPort {
    fn name(&self) -> &str {
        self.link.name()
    }

    fn fastpath_hook(&self) -> Option<crate::fastpath::PortHook> {
        crate::fastpath::PortHook::checked(
            self.link.name(),
            self.link.ifindex(),
            crate::fastpath::HookDir::Egress,
        )
    }

    fn rx_burst(&mut self, pool: &mut PacketPool, batch: &mut Batch) -> usize {
        if self.link.vanished() {
            return 0;
        }
        let mut n = 0;
        while batch.room() > 0 {
            let Some(mut p) = pool.get() else { break };
            let area = p.rx_area();
            let iov = [
                libc::iovec {
                    iov_base: self.hdr.as_mut_ptr().cast(),
                    iov_len: VNET_HDR_LEN,
                },
                libc::iovec {
                    iov_base: area.as_mut_ptr().cast(),
                    iov_len: area.len().min(MAX_FRAME),
                },
            ];
            // SAFETY: both iovecs point at writable buffers of the given lengths (`self.hdr`,
            // the packet's buffer) that outlive the call.
            let r = unsafe { libc::readv(self.fd.as_raw_fd(), iov.as_ptr(), 2) };
            if r < 0 {
                let e = errno();
                pool.put(p);
                if e == libc::EINTR {
                    continue;
                }
                if e != libc::EAGAIN {
                    self.stats.rx_errors += 1;
                    self.on_error(e);
                }
                break;
            }
            let len = r as usize;
            if len < VNET_HDR_LEN {
                self.stats.rx_errors += 1;
                pool.put(p);
                continue;
            }
            p.set_len(len - VNET_HDR_LEN);
            p.meta.in_port = self.port_no;
            p.meta.offload = vnet::parse(&self.hdr);
            self.stats.rx_packets += 1;
            self.stats.rx_bytes += (len - VNET_HDR_LEN) as u64;
            match batch.push(p) {
                Ok(()) => n += 1,
                Err(p) => pool.put(p),
            }
        }
        n
    }

    fn tx_burst(&mut self, batch: &mut Batch, pool: &mut PacketPool) -> usize {
        let mut sent = 0;
        for p in batch.drain() {
            if self.link.vanished() || self.link.too_big(&p) {
                self.stats.tx_dropped += 1;
                pool.put(p);
                continue;
            }
            vnet::emit(&p.meta.offload, &mut self.hdr);
            let d = p.data();
            let iov = [
                libc::iovec {
                    iov_base: self.hdr.as_mut_ptr().cast(),
                    iov_len: VNET_HDR_LEN,
                },
                libc::iovec {
                    iov_base: d.as_ptr() as *mut libc::c_void,
                    iov_len: d.len(),
                },
            ];
            // SAFETY: both iovecs point at readable buffers of the given lengths that outlive
            // the call; the kernel only reads them.
            let r = unsafe { libc::writev(self.fd.as_raw_fd(), iov.as_ptr(), 2) };
            if r < 0 {
                let e = errno();
                match e {
                    libc::EAGAIN | libc::ENOBUFS => self.stats.tx_dropped += 1,
                    _ if linux::is_link_errno(e) => {
                        self.stats.tx_dropped += 1;
                        self.on_error(e);
                    }
                    _ => {
                        self.stats.tx_errors += 1;
                        self.on_error(e);
                    }
                }
            } else {
                sent += 1;
                self.stats.tx_packets += 1;
                self.stats.tx_bytes += d.len() as u64;
            }
            pool.put(p);
        }
        sent
    }

    fn stats(&self) -> PortStats {
        self.stats
    }

    fn poll_fd(&self) -> Option<RawFd> {
        Some(self.fd.as_raw_fd())
    }

    fn error(&self) -> Option<String> {
        self.link.error().map(str::to_string)
    }
}
