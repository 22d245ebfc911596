//! AF_PACKET port: an existing netdev (typically one end of a veth) read and written through
//! a raw packet socket with `PACKET_VNET_HDR`, so checksum and GSO metadata cross the socket
//! in both directions (see DESIGN.md §1, "the offload trap").
//!
//! Setup order matters: the socket is created with protocol 0 (receives nothing), options are
//! set (`PACKET_VNET_HDR`, `PACKET_IGNORE_OUTGOING`, `PACKET_QDISC_BYPASS`, larger buffers),
//! and only then is it bound to the ifindex with `ETH_P_ALL`. So every frame that arrives
//! carries a vnet header.
//!
//! I/O is batched: the receive ring (below), or `recvmmsg`, which receives up to a batch of
//! frames, each into two iovecs (the 10-byte vnet header into a per-port scratch array, the
//! frame into `Packet::rx_area`, which starts after the headroom); `sendmmsg` sends a batch
//! with the header emitted from `meta.offload`. No allocation per packet or per burst
//! (iovec/mmsghdr arrays live on the stack). Frames larger than MTU + 18 that are not GSO are dropped and counted before the
//! kernel sees them; the MTU is read at open, on `EMSGSIZE`, and on `refresh()`.
//!
//! When the device vanishes (`ENODEV`/`ENXIO`/`ENETDOWN` and the name no longer resolves to the
//! same index), `error()` reports "could not open network device NAME (No such device)", and
//! from then on rx returns nothing without a syscall and tx drops and counts; queued frames and
//! the pending socket error are drained so `poll_fd()` goes quiet. A device that is
//! merely down keeps its binding and resumes when it comes back up. `refresh()` rebinds a port
//! whose device has reappeared under the same name.
//!
//! Receive uses a `TPACKET_V2` ring with `PACKET_COPY_THRESH` (measured against recvmmsg and a
//! `TPACKET_V3` ring; numbers in ARCHITECTURE.md, "AF_PACKET receive"). The kernel copies every
//! frame of up to `RING_FRAME` bytes (MTU-sized frames) into a ring slot, so a burst of small
//! frames costs no syscall at all. A frame too big for a slot (a 64 KB GSO super-frame) is
//! queued whole on the socket as well, and its slot is marked `TP_STATUS_COPY`: rx then reads
//! the frames of a run of COPY slots with one `recvmmsg` straight into `Packet`s, so big
//! frames are still copied once and frame order is kept (the queue holds exactly the COPY
//! slots' frames, in ring order). The ring's memory is 4 MB of kernel pages per port.
//! A ring slot that was cut short without a copy (socket buffer full) is a counted drop. If
//! the ring cannot be set up, the port receives with `recvmmsg` only.
//!
//! Thread-safety: a port is owned by one PMD at a time (`Send`, not shared).

use super::linux::{self, errno, setopt, Link};
use super::vnet::{self, VNET_HDR_LEN};
use super::{Port, PortStats};
use crate::packet::{Batch, Packet, PacketPool, BATCH_SIZE, MAX_FRAME};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, Ordering};

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

// <linux/if_packet.h>: the receive ring.
const PACKET_RX_RING: libc::c_int = 5;
const PACKET_COPY_THRESH: libc::c_int = 7;
const PACKET_VERSION: libc::c_int = 10;
const TPACKET_V2: libc::c_int = 1;
const TP_STATUS_KERNEL: u32 = 0;
const TP_STATUS_USER: u32 = 1;
const TP_STATUS_COPY: u32 = 1 << 1;
/// Ring slot size: the tpacket header, the kernel's alignment and the vnet header (`tp_mac`
/// is about 106) plus a 1500-MTU frame with two VLAN tags. Bigger frames take the copy path.
const RING_FRAME: u32 = 2048;
/// Ring block size (the kernel allocates blocks as power-of-two page runs) and count:
/// 2048 slots, 4 MB per port.
const RING_BLOCK: u32 = 64 << 10;
const RING_BLOCKS: u32 = 64;

/// `struct tpacket_req`.
#[repr(C)]
struct TpacketReq {
    tp_block_size: u32,
    tp_block_nr: u32,
    tp_frame_size: u32,
    tp_frame_nr: u32,
}

/// `struct tpacket2_hdr`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct Tpacket2Hdr {
    tp_status: u32,
    tp_len: u32,
    tp_snaplen: u32,
    tp_mac: u16,
    tp_net: u16,
    tp_sec: u32,
    tp_nsec: u32,
    tp_vlan_tci: u16,
    tp_vlan_tpid: u16,
    tp_padding: [u8; 4],
}

/// A `TPACKET_V2` receive ring mapped from the socket: the kernel copies each frame (and its
/// vnet header) into a slot and flips the slot's status to USER; rx copies it out into a
/// `Packet` and hands the slot back.
#[derive(Debug)]
struct RxRing {
    base: *mut u8,
    len: usize,
    frames: usize,
    head: usize,
}

// SAFETY: the mapping is owned by this struct alone and is touched only through `&mut` of its
// port: by whichever thread holds the port's mutex (`pmd::SharedPort`) — the PMD receiving
// from it (`rx_burst`), and any PMD transmitting to it, whose send error can run `quiesce`
// (which discards the ring's filled slots) after the device vanished. The mutex serializes
// those threads; moving the port between them is all `Send` has to allow. The kernel writes
// slots only while their status says so, and we read a slot only after seeing its status
// (with acquire ordering, see `RxRing::status`).
unsafe impl Send for RxRing {}

impl RxRing {
    /// Set up the ring on `fd` (before it is bound) and map it.
    fn open(fd: RawFd) -> io::Result<RxRing> {
        setopt(fd, libc::SOL_PACKET, PACKET_VERSION, TPACKET_V2)?;
        setopt(fd, libc::SOL_PACKET, PACKET_COPY_THRESH, 1)?;
        let frames = (RING_BLOCK / RING_FRAME) * RING_BLOCKS;
        let req = TpacketReq {
            tp_block_size: RING_BLOCK,
            tp_block_nr: RING_BLOCKS,
            tp_frame_size: RING_FRAME,
            tp_frame_nr: frames,
        };
        // SAFETY: `req` is a valid tpacket_req for the duration of the call.
        let r = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_PACKET,
                PACKET_RX_RING,
                (&req as *const TpacketReq).cast(),
                core::mem::size_of::<TpacketReq>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        let len = (RING_BLOCK * RING_BLOCKS) as usize;
        // SAFETY: mapping the ring the kernel just allocated for `fd`; checked below.
        let base = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(RxRing {
            base: base.cast(),
            len,
            frames: frames as usize,
            head: 0,
        })
    }

    /// Start of slot `i` (slots never straddle blocks: the block size is a multiple of the
    /// slot size).
    fn slot(&self, i: usize) -> *mut u8 {
        // SAFETY: i < frames, so the offset is inside the mapping.
        unsafe { self.base.add(i * RING_FRAME as usize) }
    }

    /// The status word of slot `i`, shared with the kernel.
    fn status(&self, i: usize) -> &AtomicU32 {
        // SAFETY: every slot starts with its u32 status, 16-aligned; the kernel and we only
        // access it atomically.
        unsafe { &*self.slot(i).cast::<AtomicU32>() }
    }

    /// Hand the `count` slots from the head back to the kernel and move the head past them.
    fn release(&mut self, count: usize) {
        for _ in 0..count {
            self.status(self.head)
                .store(TP_STATUS_KERNEL, Ordering::Release);
            self.head = (self.head + 1) % self.frames;
        }
    }

    /// Hand back every filled slot from the head on (after the device vanished). The kernel
    /// fills slots in order and never skips one, so this leaves the head exactly where the
    /// kernel writes next; resetting it to slot 0 instead would leave the two out of step.
    fn discard_filled(&mut self) {
        for _ in 0..self.frames {
            if self.status(self.head).load(Ordering::Acquire) & TP_STATUS_USER == 0 {
                break;
            }
            self.release(1);
        }
    }
}

impl Drop for RxRing {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the region mapped in `open`, once.
        unsafe { libc::munmap(self.base.cast(), self.len) };
    }
}

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
    /// A `TPACKET_V2` receive ring, when opened with one (see [`RxRing`]).
    ring: Option<RxRing>,
    /// Frames the kernel dropped because the ring (socket) was full, summed over every read
    /// of `PACKET_STATISTICS` (which resets the kernel's count). A `Cell` because reading
    /// statistics (`&self`) is what collects them; the port mutex serializes access.
    ring_drops: core::cell::Cell<u64>,
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
        // Without a ring (e.g. locked-memory limits), recvmmsg does the receiving.
        let ring = RxRing::open(raw).ok();
        bind(raw, link.ifindex())?;
        Ok(AfPacketPort {
            fd,
            port_no,
            link,
            stats: PortStats::default(),
            rx_hdrs: [[0; VNET_HDR_LEN]; BATCH_SIZE],
            rx_cmsg: [CmsgBuf([0; CMSG_BUF]); BATCH_SIZE],
            tx_hdrs: [[0; VNET_HDR_LEN]; BATCH_SIZE],
            ring,
            ring_drops: core::cell::Cell::new(0),
        })
    }

    /// Receive up to `max` frames (and the batch's room) with one `recvmmsg`. Returns how many
    /// frames were taken off the socket and how many of them went into `batch`.
    fn rx_mmsg(&mut self, pool: &mut PacketPool, batch: &mut Batch, max: usize) -> (usize, usize) {
        let mut slots: [Option<Packet>; BATCH_SIZE] = Default::default();
        let mut k = 0;
        while k < batch.room().min(max) {
            let Some(p) = pool.get() else { break };
            slots[k] = Some(p);
            k += 1;
        }
        if k == 0 {
            return (0, 0);
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
            n += self.accept(p, stripped_vlan(&msgs[i].msg_hdr), pool, batch);
        }
        (got, n)
    }

    /// Receive from the ring: every slot the kernel filled, up to the batch's room.
    fn rx_ring(&mut self, pool: &mut PacketPool, batch: &mut Batch) -> usize {
        let mut n = 0;
        // Without a free buffer the slot stays in the ring for the next burst (a COPY slot
        // must be read together with its queued frame, or the two would fall out of step).
        while batch.room() > 0 && pool.available() > 0 {
            let Some(ring) = self.ring.as_ref() else {
                break;
            };
            let head = ring.head;
            let st = ring.status(head).load(Ordering::Acquire);
            if st & TP_STATUS_USER == 0 {
                break;
            }
            let slot = ring.slot(head);
            let taken = if st & TP_STATUS_COPY != 0 {
                // Too big for a slot: the whole frame waits on the socket queue, in order.
                // Read it, and the big frames of the COPY slots right behind it, with one
                // recvmmsg; then hand all those slots back.
                let room = batch.room().min(pool.available());
                let both = TP_STATUS_USER | TP_STATUS_COPY;
                let mut k = 1;
                while k < room
                    && ring
                        .status((head + k) % ring.frames)
                        .load(Ordering::Acquire)
                        & both
                        == both
                {
                    k += 1;
                }
                let (consumed, pushed) = self.rx_mmsg(pool, batch, k);
                n += pushed;
                if consumed == 0 {
                    // Cannot happen (the frame was queued before the slot was filled); give
                    // the slot back rather than stall on it.
                    self.stats.rx_errors += 1;
                }
                consumed.max(1)
            } else {
                // SAFETY: the slot is ours (status USER) until it is released below; it
                // starts with a tpacket2_hdr.
                let h = unsafe { core::ptr::read(slot.cast::<Tpacket2Hdr>()) };
                n += self.take_slot(slot, &h, pool, batch);
                1
            };
            if let Some(ring) = self.ring.as_mut() {
                ring.release(taken);
            }
        }
        n
    }

    /// Copy the frame of a filled ring slot into a packet of `batch`. Returns 1 if it was
    /// added.
    fn take_slot(
        &mut self,
        slot: *const u8,
        h: &Tpacket2Hdr,
        pool: &mut PacketPool,
        batch: &mut Batch,
    ) -> usize {
        let (mac, snap) = (usize::from(h.tp_mac), h.tp_snaplen as usize);
        if mac < VNET_HDR_LEN || mac + snap > RING_FRAME as usize {
            self.stats.rx_errors += 1;
            return 0;
        }
        if h.tp_snaplen < h.tp_len {
            // Cut short and not copied: the socket buffer was full.
            self.stats.rx_dropped += 1;
            return 0;
        }
        let Some(mut p) = pool.get() else {
            self.stats.rx_dropped += 1;
            return 0;
        };
        // SAFETY: [mac - 10, mac + snap) lies inside this slot (checked above).
        let (hdr, frame) = unsafe {
            (
                &*slot.add(mac - VNET_HDR_LEN).cast::<[u8; VNET_HDR_LEN]>(),
                core::slice::from_raw_parts(slot.add(mac), snap),
            )
        };
        if !p.set_frame(frame) {
            // Unreachable (a slot is far smaller than MAX_FRAME); never forward a cut frame.
            pool.put(p);
            self.stats.rx_errors += 1;
            return 0;
        }
        p.meta.in_port = self.port_no;
        p.meta.offload = vnet::parse(hdr);
        let vlan = (h.tp_status & TP_STATUS_VLAN_VALID != 0 || h.tp_vlan_tci != 0).then(|| {
            let tpid = if h.tp_status & TP_STATUS_VLAN_TPID_VALID != 0 {
                h.tp_vlan_tpid
            } else {
                0x8100
            };
            (tpid, h.tp_vlan_tci)
        });
        self.accept(p, vlan, pool, batch)
    }

    /// Put a received frame (and the VLAN tag the kernel stripped from it) into `batch`,
    /// counting it. Returns 1 if it was added.
    fn accept(
        &mut self,
        mut p: Packet,
        vlan: Option<(u16, u16)>,
        pool: &mut PacketPool,
        batch: &mut Batch,
    ) -> usize {
        if let Some((tpid, tci)) = vlan {
            // The tag the kernel took off on receive goes back where it was.
            if !crate::vlan::push_tag(&mut p, tpid, tci) {
                self.stats.rx_errors += 1;
                pool.put(p);
                return 0;
            }
        }
        self.stats.rx_packets += 1;
        self.stats.rx_bytes += p.len() as u64;
        match batch.push(p) {
            Ok(()) => 1,
            Err(p) => {
                pool.put(p);
                0
            }
        }
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
        if let Some(ring) = self.ring.as_mut() {
            ring.discard_filled();
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

impl AfPacketPort {
    /// Frames the kernel dropped on receive so far (ring full): collects `PACKET_STATISTICS`.
    fn kernel_drops(&self) -> u64 {
        #[repr(C)]
        #[derive(Default)]
        struct TpacketStats {
            tp_packets: u32,
            tp_drops: u32,
        }
        let mut st = TpacketStats::default();
        let mut len = core::mem::size_of::<TpacketStats>() as libc::socklen_t;
        // SAFETY: PACKET_STATISTICS writes a tpacket_stats (two u32) into `st`, at most `len`.
        let r = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&mut st as *mut TpacketStats).cast(),
                &mut len,
            )
        };
        if r == 0 {
            self.ring_drops
                .set(self.ring_drops.get() + u64::from(st.tp_drops));
        }
        self.ring_drops.get()
    }
}

impl Port for AfPacketPort {
    fn name(&self) -> &str {
        self.link.name()
    }

    fn fastpath_hook(&self) -> Option<crate::fastpath::PortHook> {
        crate::fastpath::PortHook::checked(
            self.link.name(),
            self.link.ifindex(),
            crate::fastpath::HookDir::Ingress,
        )
    }

    fn set_fastpath_filter(&mut self, prog: Option<std::os::fd::BorrowedFd<'_>>) -> io::Result<()> {
        use std::os::fd::AsFd;
        crate::fastpath::set_socket_filter(self.fd.as_fd(), prog)
    }

    fn rx_burst(&mut self, pool: &mut PacketPool, batch: &mut Batch) -> usize {
        if self.link.vanished() {
            return 0;
        }
        if self.ring.is_some() {
            self.rx_ring(pool, batch)
        } else {
            self.rx_mmsg(pool, batch, BATCH_SIZE).1
        }
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
        let kernel = self.kernel_drops();
        PortStats {
            rx_dropped: self.stats.rx_dropped + kernel,
            rx_over_errors: kernel,
            ..self.stats
        }
    }

    fn named_counters(&self) -> Vec<(&'static str, u64)> {
        vec![("afpacket_rx_ring_full", self.kernel_drops())]
    }

    fn poll_fd(&self) -> Option<RawFd> {
        Some(self.fd.as_raw_fd())
    }

    fn error(&self) -> Option<String> {
        self.link.error().map(str::to_string)
    }
}
