//! Wire parsing: our hand views against etherparse on the same frames.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use rvs_bench::{mac, udp_frame};
use rvs_datapath::wire::{EthernetFrame, GreHeader, Ipv4Packet};

fn bench(c: &mut Criterion) {
    let f = udp_frame(mac(2), mac(1));
    let mut g = c.benchmark_group("wire");
    g.bench_function("rvs_l2_classify", |b| {
        b.iter(|| {
            let e = EthernetFrame::new_checked(black_box(&f[..])).unwrap();
            let l2 = e.parse_l2().unwrap();
            black_box((e.src(), e.dst(), l2.ethertype, l2.outer_tci))
        })
    });
    g.bench_function("etherparse_l2_classify", |b| {
        b.iter(|| {
            let p = etherparse::LinkSlice::Ethernet2(
                etherparse::Ethernet2Slice::from_slice_without_fcs(black_box(&f[..])).unwrap(),
            );
            let etherparse::LinkSlice::Ethernet2(e) = p else {
                unreachable!()
            };
            black_box((e.source(), e.destination(), e.ether_type()))
        })
    });
    g.bench_function("rvs_l2_l3", |b| {
        b.iter(|| {
            let e = EthernetFrame::new_checked(black_box(&f[..])).unwrap();
            let l2 = e.parse_l2().unwrap();
            let ip = Ipv4Packet::new_checked(&f[l2.l3_offset..]).unwrap();
            black_box((e.src(), ip.src(), ip.dst(), ip.protocol()))
        })
    });
    g.bench_function("etherparse_sliced_packet", |b| {
        b.iter(|| {
            let p = etherparse::SlicedPacket::from_ethernet(black_box(&f[..])).unwrap();
            black_box(p.net.is_some())
        })
    });
    let mut gre = vec![0u8; 8];
    gre[0..4].copy_from_slice(&[0x20, 0, 0x65, 0x58]);
    gre[4..8].copy_from_slice(&0x1234u32.to_be_bytes());
    gre.extend_from_slice(&f);
    g.bench_function("rvs_gre_header", |b| {
        b.iter(|| {
            let h = GreHeader::new_checked(black_box(&gre[..])).unwrap();
            black_box((h.key(), h.protocol(), h.payload().len()))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
