//! Golden bytes: every frame of the GRE captures taken from real OVS 3.1 (testdata/gre-*.pcap)
//! is decoded with our views, and its outer IPv4 and GRE headers are re-emitted from the
//! decoded fields and compared byte for byte.

mod support;

use rvs_datapath::wire::gre::{GreHeader, GreRepr};
use rvs_datapath::wire::ipv4::{proto, Ipv4Packet, Ipv4Repr};
use rvs_datapath::wire::{EtherType, EthernetFrame};
use support::{pcap_frames, testdata};

/// (file, checksum present, key) per variant, as configured on the OVS that made them.
const VARIANTS: [(&str, bool, Option<u32>, usize); 4] = [
    ("gre-plain.pcap", false, None, 38),
    ("gre-key4660.pcap", false, Some(4660), 42),
    ("gre-csum.pcap", true, None, 42),
    ("gre-key4660-csum.pcap", true, Some(4660), 46),
];

#[test]
fn decode_and_reemit_every_frame_byte_for_byte() {
    for (file, csum, key, overhead) in VARIANTS {
        let frames = pcap_frames(&testdata(file));
        assert!(frames.len() >= 10, "{file}: {} frames", frames.len());
        for (n, f) in frames.iter().enumerate() {
            let eth = EthernetFrame::new_checked(&f[..]).unwrap();
            assert_eq!(eth.ethertype(), EtherType::IPV4);
            let ip = Ipv4Packet::new_checked(&f[14..]).unwrap();
            assert!(ip.verify_checksum(), "{file}#{n}: outer IPv4 checksum");
            assert_eq!(
                (ip.protocol(), ip.ttl(), ip.ident(), ip.dont_frag()),
                (proto::GRE, 64, 0, true)
            );
            let gre = GreHeader::new_checked(ip.payload()).unwrap();
            assert_eq!(
                (
                    gre.version(),
                    gre.protocol(),
                    gre.key(),
                    gre.has_checksum(),
                    gre.seq()
                ),
                (0, EtherType::TEB, key, csum, None)
            );
            assert!(gre.checksum_ok(), "{file}#{n}: GRE checksum");
            assert_eq!(
                14 + ip.header_len() + gre.header_len(),
                overhead,
                "{file}: header size"
            );
            let inner = EthernetFrame::new_checked(gre.payload()).unwrap();
            assert!(!inner.src().is_multicast());

            // Re-emit the outer IPv4 header from decoded fields.
            let mut out = vec![0u8; 20 + usize::from(ip.total_len()) - 20];
            let repr = Ipv4Repr {
                src: ip.src(),
                dst: ip.dst(),
                protocol: ip.protocol(),
                tos: ip.tos(),
                ttl: ip.ttl(),
                ident: ip.ident(),
                frag_word: ip.frag_word(),
                payload_len: ip.payload().len(),
            };
            repr.emit(&mut out);
            assert_eq!(&out[..20], ip.header(), "{file}#{n}: IPv4 header bytes");

            // Re-emit GRE in front of the same payload; the checksum must come out identical.
            let g = GreRepr {
                csum,
                key,
                seq: None,
                protocol: EtherType::TEB,
            };
            let mut gbuf = vec![0u8; g.header_len()];
            gbuf.extend_from_slice(gre.payload());
            g.emit(&mut gbuf);
            assert_eq!(gbuf, ip.payload(), "{file}#{n}: GRE header bytes");
        }
    }
}

#[test]
fn captures_agree_with_etherparse() {
    for (file, ..) in VARIANTS {
        for f in pcap_frames(&testdata(file)) {
            let p = etherparse::SlicedPacket::from_ethernet(&f).unwrap();
            let Some(etherparse::NetSlice::Ipv4(e)) = p.net else {
                panic!("not ipv4")
            };
            let ours = Ipv4Packet::new_checked(&f[14..]).unwrap();
            assert_eq!(e.header().source_addr(), ours.src());
            assert_eq!(e.header().destination_addr(), ours.dst());
            assert_eq!(e.header().header_checksum(), ours.checksum());
        }
    }
}
