//! AF_PACKET port: an existing netdev (typically one end of a veth) read and written through
//! a raw packet socket with `PACKET_VNET_HDR`, so checksum and GSO metadata cross the socket
//! in both directions (see DESIGN.md §1, "the offload trap").
//!
//! Setup order matters: the socket is created with protocol 0 (receives nothing), options are
//! set (`PACKET_VNET_HDR`, `PACKET_IGNORE_OUTGOING`, `PACKET_QDISC_BYPASS`, larger buffers),
//! and only then is it bound to the ifindex with `ETH_P_ALL`. So every frame that arrives
//! carries a vnet header.
//!
//! I/O is batched: `recvmmsg` receives up to a batch of frames, each into two iovecs (the
//! 10-byte vnet header into a per-port scratch array, the frame into `Packet::rx_area`, which
//! starts after the headroom); `sendmmsg` sends a batch with the header emitted from
//! `meta.offload`. No allocation per packet or per burst (iovec/mmsghdr arrays live on the
//! stack). Frames larger than MTU + 18 that are not GSO are dropped and counted before the
//! kernel sees them; the MTU is read at open, on `EMSGSIZE`, and on `refresh()`.
//!
//! When the device vanishes (`ENODEV`/`ENXIO`/`ENETDOWN` and the name no longer resolves to the
//! same index), `error()` reports "could not open network device NAME (No such device)", and
//! from then on rx returns nothing without a syscall and tx drops and counts; queued frames and
//! the pending socket error are drained so `poll_fd()` goes quiet. A device that is
//! merely down keeps its binding and resumes when it comes back up. `refresh()` rebinds a port
//! whose device has reappeared under the same name.
//!
//! recvmmsg rather than a TPACKET_V3 ring: a ring would save one copy and a syscall per burst,
//! but 64 KB GSO super-frames need huge ring blocks; the ring has not been measured yet, so
//! the simpler recvmmsg path is kept (10.6 Gbit/s TCP through a two-port forwarder, release).
//!
//! Thread-safety: a port is owned by one PMD at a time (`Send`, not shared).

use super::linux::{self, errno, setopt, Link};
use super::vnet::{self, VNET_HDR_LEN};
use super::{Port, PortStats};
use crate::packet::{Batch, Packet, PacketPool, BATCH_SIZE, MAX_FRAME};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

// <linux/if_packet.h>
const PACKET_VNET_HDR: libc::c_int = 15;
const PACKET_QDISC_BYPASS: libc::c_int = 20;
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;
const PACKET_AUXDATA: libc::c_int = 8;
/// `tpacket_auxdata.tp_status` bits: the VLAN TCI (and TPID) fields are valid.
const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;
/// Room for one `cmsghdr` + `tpacket_auxdata` (20 bytes), 8-aligned.
const CMSG_BUF: usize = 64;

/// `struct tpacket_auxdata` from linux/if_packet.h.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
struct TpacketAuxdata {
    tp_status: u32,
    tp_len: u32,
    tp_snaplen: u32,
    tp_mac: u16,
    tp_net: u16,
    tp_vlan_tci: u16,
    tp_vlan_tpid: u16,
}

/// A control-message buffer aligned for `cmsghdr`.
#[repr(C, align(8))]
#[derive(Debug, Clone, Copy)]
struct CmsgBuf([u8; CMSG_BUF]);
/// Socket buffer size asked for (root may exceed rmem_max): room for dozens of 64 KB frames.
const SOCK_BUF: libc::c_int = 8 << 20;

/// A datapath port on an existing netdev, through an AF_PACKET socket.
#[derive(Debug)]
pub struct AfPacketPort {
    fd: OwnedFd,
    port_no: u16,
    link: Link,
    stats: PortStats,
    rx_hdrs: [[u8; VNET_HDR_LEN]; BATCH_SIZE],
    /// Per-message control buffers: the kernel strips a received VLAN tag into
    /// `PACKET_AUXDATA`, and rx puts it back into the frame.
    rx_cmsg: [CmsgBuf; BATCH_SIZE],
    tx_hdrs: [[u8; VNET_HDR_LEN]; BATCH_SIZE],
}

fn bind(fd: RawFd, ifindex: u32) -> io::Result<()> {
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid starting value.
    let mut sa: libc::sockaddr_ll = unsafe { core::mem::zeroed() };
    sa.sll_family = libc::AF_PACKET as u16;
    sa.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
    sa.sll_ifindex = ifindex as i32;
    linux::bind_to(fd, &sa)
}

/// The VLAN tag the kernel stripped from a received frame, from its `PACKET_AUXDATA`.
fn stripped_vlan(h: &libc::msghdr) -> Option<(u16, u16)> {
    // SAFETY: `h` is a msghdr the kernel filled by recvmmsg; its control pointer and length
    // describe our own `CmsgBuf`, and the CMSG_* helpers stay within msg_controllen.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(h);
        while !c.is_null() {
            let min = libc::CMSG_LEN(core::mem::size_of::<TpacketAuxdata>() as u32) as usize;
            if (*c).cmsg_level == libc::SOL_PACKET
                && (*c).cmsg_type == PACKET_AUXDATA
                && (*c).cmsg_len as usize >= min
            {
                let aux: TpacketAuxdata = core::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                if aux.tp_status & TP_STATUS_VLAN_VALID == 0 && aux.tp_vlan_tci == 0 {
                    return None;
                }
                let tpid = if aux.tp_status & TP_STATUS_VLAN_TPID_VALID != 0 {
                    aux.tp_vlan_tpid
                } else {
                    0x8100
                };
                return Some((tpid, aux.tp_vlan_tci));
            }
            c = libc::CMSG_NXTHDR(h, c);
        }
    }
    None
}

impl AfPacketPort {
    /// Open `ifname` (in the calling thread's network namespace) as datapath port `port_no`.
    /// Errors are the raw OS errors; callers phrase them (`linux::open_error_message`).
    pub fn open(ifname: &str, port_no: u16) -> io::Result<AfPacketPort> {
        let link = Link::open(ifname)?;
        // SAFETY: plain socket(2) call; checked below.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        setopt(raw, libc::SOL_PACKET, PACKET_VNET_HDR, 1)?;
        setopt(raw, libc::SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)?;
        setopt(raw, libc::SOL_PACKET, PACKET_QDISC_BYPASS, 1)?;
        setopt(raw, libc::SOL_PACKET, PACKET_AUXDATA, 1)?;
        // Best effort: bigger buffers only help under load.
        let _ = setopt(raw, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, SOCK_BUF);
        let _ = setopt(raw, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, SOCK_BUF);
        bind(raw, link.ifindex())?;
        Ok(AfPacketPort {
            fd,
            port_no,
            link,
            stats: PortStats::default(),
            rx_hdrs: [[0; VNET_HDR_LEN]; BATCH_SIZE],
            rx_cmsg: [CmsgBuf([0; CMSG_BUF]); BATCH_SIZE],
            tx_hdrs: [[0; VNET_HDR_LEN]; BATCH_SIZE],
        })
    }

    /// The datapath port number given at open.
    pub fn port_no(&self) -> u16 {
        self.port_no
    }

    /// The MTU last read from the device.
    pub fn mtu(&self) -> usize {
        self.link.mtu()
    }

    /// Re-read the MTU; if the device vanished and a device of the same name exists again,
    /// bind to it and clear the error. Returns whether the port can pass traffic.
    pub fn refresh(&mut self) -> bool {
        if !self.link.vanished() {
            return self.link.refresh();
        }
        let Ok(link) = Link::open(self.link.name()) else {
            return false;
        };
        if bind(self.fd.as_raw_fd(), link.ifindex()).is_err() {
            return false;
        }
        self.link = link;
        true
    }

    /// This port passes vnet headers to the kernel, so `offload::prepare_tx` should leave
    /// checksum/GSO work to it.
    pub fn accepts_vnet(&self) -> bool {
        true
    }

    fn on_error(&mut self, e: i32) {
        if linux::is_link_errno(e) {
            if self.link.on_link_errno() {
                self.quiesce();
            }
        } else if e == libc::EMSGSIZE {
            self.link.refresh();
        }
    }

    /// After the device vanished: discard frames still queued and clear the pending socket
    /// error, so the descriptor stops polling readable (rx no longer reads it) and an
    /// idle-waiting PMD does not spin. Bounded: nothing new can arrive on an unbound socket.
    fn quiesce(&mut self) {
        let fd = self.fd.as_raw_fd();
        let mut b = [0u8; 1];
        for _ in 0..100_000 {
            // SAFETY: `b` is a valid 1-byte buffer; MSG_TRUNC discards the rest of the frame.
            let r = unsafe {
                libc::recv(
                    fd,
                    b.as_mut_ptr().cast(),
                    1,
                    libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                )
            };
            if r < 0 && errno() == libc::EAGAIN {
                break;
            }
        }
        let mut err: libc::c_int = 0;
        let mut len = core::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: SO_ERROR writes one int into `err`; `len` holds its size.
        unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                (&mut err as *mut libc::c_int).cast(),
                &mut len,
            )
        };
    }
}

impl Port for AfPacketPort {
    fn name(&self) -> &str {
        self.link.name()
    }

    fn rx_burst(&mut self, pool: &mut PacketPool, batch: &mut Batch) -> usize {
        if self.link.vanished() {
            return 0;
        }
        let mut slots: [Option<Packet>; BATCH_SIZE] = Default::default();
        let mut k = 0;
        while k < batch.room() {
            let Some(p) = pool.get() else { break };
            slots[k] = Some(p);
            k += 1;
        }
        if k == 0 {
            return 0;
        }
        // SAFETY: iovec and mmsghdr are plain C structs; all-zero (null pointers) is valid.
        let mut iov: [[libc::iovec; 2]; BATCH_SIZE] = unsafe { core::mem::zeroed() };
        // SAFETY: as above.
        let mut msgs: [libc::mmsghdr; BATCH_SIZE] = unsafe { core::mem::zeroed() };
        for (i, p) in slots[..k].iter_mut().flatten().enumerate() {
            let area = p.rx_area();
            iov[i][0] = libc::iovec {
                iov_base: self.rx_hdrs[i].as_mut_ptr().cast(),
                iov_len: VNET_HDR_LEN,
            };
            iov[i][1] = libc::iovec {
                iov_base: area.as_mut_ptr().cast(),
                iov_len: area.len().min(MAX_FRAME),
            };
            msgs[i].msg_hdr.msg_iov = iov[i].as_mut_ptr();
            msgs[i].msg_hdr.msg_iovlen = 2;
            msgs[i].msg_hdr.msg_control = self.rx_cmsg[i].0.as_mut_ptr().cast();
            msgs[i].msg_hdr.msg_controllen = CMSG_BUF as _;
        }
        let got = match linux::recvmmsg_batch(self.fd.as_raw_fd(), &mut msgs[..k]) {
            Ok(n) => n,
            Err(e) => {
                self.stats.rx_errors += 1;
                self.on_error(e);
                0
            }
        };
        let mut n = 0;
        for (i, slot) in slots[..k].iter_mut().enumerate() {
            let Some(mut p) = slot.take() else { continue };
            let len = msgs[i].msg_len as usize;
            if i >= got {
                pool.put(p);
                continue;
            }
            if len < VNET_HDR_LEN || msgs[i].msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                self.stats.rx_errors += 1;
                pool.put(p);
                continue;
            }
            p.set_len(len - VNET_HDR_LEN);
            p.meta.in_port = self.port_no;
            p.meta.offload = vnet::parse(&self.rx_hdrs[i]);
            if let Some((tpid, tci)) = stripped_vlan(&msgs[i].msg_hdr) {
                // The tag the kernel took off on receive goes back where it was.
                if !crate::vlan::push_tag(&mut p, tpid, tci) {
                    self.stats.rx_errors += 1;
                    pool.put(p);
                    continue;
                }
            }
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
        let total = batch.len();
        if total == 0 {
            return 0;
        }
        if self.link.vanished() {
            self.stats.tx_dropped += total as u64;
            for p in batch.drain() {
                pool.put(p);
            }
            return 0;
        }
        // SAFETY: iovec and mmsghdr are plain C structs; all-zero (null pointers) is valid.
        let mut iov: [[libc::iovec; 2]; BATCH_SIZE] = unsafe { core::mem::zeroed() };
        // SAFETY: as above.
        let mut msgs: [libc::mmsghdr; BATCH_SIZE] = unsafe { core::mem::zeroed() };
        let mut bytes = [0usize; BATCH_SIZE];
        let mut k = 0;
        for p in batch.iter() {
            if self.link.too_big(p) {
                self.stats.tx_dropped += 1;
                continue;
            }
            vnet::emit(&p.meta.offload, &mut self.tx_hdrs[k]);
            let d = p.data();
            iov[k][0] = libc::iovec {
                iov_base: self.tx_hdrs[k].as_mut_ptr().cast(),
                iov_len: VNET_HDR_LEN,
            };
            iov[k][1] = libc::iovec {
                iov_base: d.as_ptr() as *mut libc::c_void,
                iov_len: d.len(),
            };
            msgs[k].msg_hdr.msg_iov = iov[k].as_mut_ptr();
            msgs[k].msg_hdr.msg_iovlen = 2;
            bytes[k] = d.len();
            k += 1;
        }
        let fd = self.fd.as_raw_fd();
        let out = linux::sendmmsg_all(
            fd,
            &mut msgs[..k],
            &bytes[..k],
            &mut self.stats,
            linux::is_link_errno,
        );
        if let Some(e) = out.last_errno {
            self.on_error(e);
        }
        let sent = out.sent;
        self.stats.tx_packets += sent as u64;
        for p in batch.drain() {
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
