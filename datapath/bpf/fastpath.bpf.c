// SPDX-License-Identifier: Apache-2.0
/*
 * rvs kernel fast path (see datapath/src/fastpath/mod.rs for the design).
 *
 * Two programs share one hash map of offloaded flows, filled only by the rvs datapath:
 *
 *  - rvs_tc (tc/TCX): on a port's netdev where frames enter the switch (ingress of a system
 *    port, egress of a TAP port). Parses the flow key; on a hit it applies the flow's VLAN edit,
 *    counts the frame in the flow and redirects it to the output port's netdev. On a miss it
 *    does nothing (TC_ACT_UNSPEC: the next program, then the frame's normal path to rvs).
 *
 *  - rvs_sock (socket filter): attached to rvs's own AF_PACKET socket of a system port. Packet
 *    sockets see a frame before tc ingress runs, so without it rvs would copy every offloaded
 *    frame into its ring too. It drops (returns 0) exactly the frames rvs_tc redirects: same
 *    key, same map.
 *
 * The key is exactly what the userspace flow cache keys on for a non-tunnel port: ingress
 * port (ifindex), Ethernet source and destination, outer VLAN TCI (tagged or not) and the
 * EtherType after the outer tag. The layout matches `fastpath::bpf::Key` byte for byte.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88a8
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86dd
#define IPPROTO_TCP 6

/* Matches fastpath::bpf::Key: 24 bytes, padding zeroed by both sides. */
struct fp_key {
	__u32 ifindex;
	__u16 tci;      /* outer TCI as received (PCP|DEI|VID), 0 when untagged */
	__u8 tagged;    /* 1 when the frame has an outer 802.1Q/802.1ad tag */
	__u8 pad0;
	__u8 dst[6];
	__u8 src[6];
	__u16 eth_type; /* EtherType after the outer tag, host order */
	__u16 pad1;
};

/* What to do with the outer tag before the redirect. */
enum fp_vlan_op {
	FP_VLAN_KEEP = 0,
	FP_VLAN_POP = 1,
	FP_VLAN_PUSH = 2, /* push 802.1Q with `tci` */
	FP_VLAN_SET = 3,  /* replace the outer TCI with `tci`, keeping the TPID */
};

/* How to hand the frame to the output netdev. */
enum fp_redirect {
	FP_TO_EGRESS = 0,  /* transmit on the netdev (a veth: its peer receives it) */
	FP_TO_INGRESS = 1, /* receive on the netdev (a TAP: the host stack receives it) */
};

/* Matches fastpath::bpf::Value: 56 bytes. The first 16 bytes are the action (written by rvs
 * only); the counters are updated here with atomic adds and read by rvs's revalidation. */
struct fp_value {
	__u32 ifindex;
	__u16 redirect;
	__u16 vlan_op;
	__u16 tci;
	__u16 pad0;
	__u32 pad1;
	__u64 packets;
	__u64 bytes;
	__u64 used_ns; /* bpf_ktime_get_ns (CLOCK_MONOTONIC) of the last frame */
	__u64 tcp_flags;
	__u64 errors;  /* VLAN edits that failed: the frame was dropped */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct fp_key);
	__type(value, struct fp_value);
} rvs_flows SEC(".maps");

/* Parse the key; returns the offset of the L3 header, or -1 for a frame too short to key. */
static __always_inline int parse_key(struct __sk_buff *skb, struct fp_key *k)
{
	__u8 h[18];
	int off = 14;

	if (bpf_skb_load_bytes(skb, 0, h, 14) < 0)
		return -1;
	__builtin_memcpy(k->dst, h, 6);
	__builtin_memcpy(k->src, h + 6, 6);
	__u16 et = (__u16)h[12] << 8 | h[13];

	if (skb->vlan_present) {
		/* The receive path moved the outer tag into the skb's metadata. */
		k->tagged = 1;
		k->tci = skb->vlan_tci;
	} else if (et == ETH_P_8021Q || et == ETH_P_8021AD) {
		if (bpf_skb_load_bytes(skb, 14, h + 14, 4) < 0)
			return -1;
		k->tagged = 1;
		k->tci = (__u16)h[14] << 8 | h[15];
		et = (__u16)h[16] << 8 | h[17];
		off = 18;
	}
	k->eth_type = et;
	k->ifindex = skb->ifindex;
	return off;
}

/* TCP flags of an IPv4/IPv6 TCP frame (as the userspace flow cache records them), else 0. */
static __always_inline __u32 tcp_flags(struct __sk_buff *skb, const struct fp_key *k, int l3)
{
	__u8 b[10];
	int l4;

	if (k->eth_type == ETH_P_IP) {
		if (bpf_skb_load_bytes(skb, l3, b, 10) < 0 || b[0] >> 4 != 4 || b[9] != IPPROTO_TCP)
			return 0;
		l4 = l3 + (b[0] & 0x0f) * 4;
	} else if (k->eth_type == ETH_P_IPV6) {
		if (bpf_skb_load_bytes(skb, l3, b, 7) < 0 || b[6] != IPPROTO_TCP)
			return 0;
		l4 = l3 + 40;
	} else {
		return 0;
	}
	if (bpf_skb_load_bytes(skb, l4 + 13, b, 1) < 0)
		return 0;
	return b[0];
}

static __always_inline int vlan_edit(struct __sk_buff *skb, const struct fp_value *v)
{
	__u16 proto;

	switch (v->vlan_op) {
	case FP_VLAN_KEEP:
		return 0;
	case FP_VLAN_POP:
		return bpf_skb_vlan_pop(skb);
	case FP_VLAN_PUSH:
		return bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), v->tci);
	case FP_VLAN_SET:
		proto = skb->vlan_present ? skb->vlan_proto : bpf_htons(ETH_P_8021Q);
		if (bpf_skb_vlan_pop(skb) < 0)
			return -1;
		return bpf_skb_vlan_push(skb, proto, v->tci);
	}
	return -1;
}

SEC("tc")
int rvs_tc(struct __sk_buff *skb)
{
	struct fp_key k = {};
	int l3 = parse_key(skb, &k);

	if (l3 < 0)
		return TC_ACT_UNSPEC;
	struct fp_value *v = bpf_map_lookup_elem(&rvs_flows, &k);
	if (!v)
		return TC_ACT_UNSPEC;

	/* Count as rvs would: a tag held in metadata is part of the frame rvs reads. */
	__u64 len = skb->len + (skb->vlan_present ? 4 : 0);
	__u64 flags = tcp_flags(skb, &k, l3);
	if (vlan_edit(skb, v) < 0) {
		__sync_fetch_and_add(&v->errors, 1);
		return TC_ACT_SHOT;
	}
	__sync_fetch_and_add(&v->packets, 1);
	__sync_fetch_and_add(&v->bytes, len);
	if (flags && (v->tcp_flags & flags) != flags)
		__sync_fetch_and_or(&v->tcp_flags, flags);
	v->used_ns = bpf_ktime_get_ns();
	return bpf_redirect(v->ifindex, v->redirect == FP_TO_INGRESS ? BPF_F_INGRESS : 0);
}

SEC("socket")
int rvs_sock(struct __sk_buff *skb)
{
	struct fp_key k = {};

	if (parse_key(skb, &k) < 0)
		return skb->len;
	return bpf_map_lookup_elem(&rvs_flows, &k) ? 0 : skb->len;
}

/* No GPL-only helper is used. */
char LICENSE[] SEC("license") = "Apache-2.0";
