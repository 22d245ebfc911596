//! Unit tests of the ovs-vsctl engine: every command, the reference outputs of real OVS 3.1
//! (ovs-reference/outputs/, embedded here verbatim), error wording checked against a live
//! `ovs-vsctl` 3.1 + ovsdb-server, and all-or-nothing transactions.

use super::*;
use crate::config::Interface;

const UUID0: &str = "4c7acb42-0e7d-415c-8e2d-26389d3cb985";

#[derive(Default)]
struct FakeStatus(BTreeMap<String, IfaceStatus>);

impl Status for FakeStatus {
    fn interface(&self, name: &str) -> IfaceStatus {
        self.0.get(name).cloned().unwrap_or_default()
    }
}

fn args(line: &str) -> Vec<String> {
    rvs_testkit::shell_words(line)
}

fn exec(cfg: &Config, line: &str) -> Result<Outcome, VsctlError> {
    execute(cfg, &args(line), &NoStatus)
}

fn exec_st(cfg: &Config, line: &str, st: &dyn Status) -> Result<Outcome, VsctlError> {
    execute(cfg, &args(line), st)
}

/// Runs a command that must succeed and returns the new config.
fn ok(cfg: &Config, line: &str) -> Config {
    match exec(cfg, line) {
        Ok(o) => o.config,
        Err(e) => panic!("{line}: {}", e.message),
    }
}

fn out(cfg: &Config, line: &str) -> String {
    match exec(cfg, line) {
        Ok(o) => o.stdout,
        Err(e) => panic!("{line}: {}", e.message),
    }
}

fn err(cfg: &Config, line: &str) -> String {
    match exec(cfg, line) {
        Ok(o) => panic!("{line}: unexpectedly succeeded:\n{}", o.stdout),
        Err(e) => e.message,
    }
}

fn empty() -> Config {
    let mut c = Config::new();
    c.uuid = UUID0.into();
    c
}

/// The single-host reference setup: br0 with ovpv-c1 and ovpv-c2.
fn reference() -> Config {
    let c = ok(
        &empty(),
        "add-br br0 -- set bridge br0 datapath_type=netdev",
    );
    let c = ok(&c, "add-port br0 ovpv-c1");
    ok(&c, "add-port br0 ovpv-c2")
}

/// The GRE host h1: br-int (container port + gre0) and br-phy.
fn gre_host(opts: &str) -> Config {
    let mut c = empty();
    c.uuid = "e2b15129-c96e-4ad1-b36d-935f7fa6660a".into();
    let c = ok(&c, "add-br br-phy -- add-port br-phy ovpu1");
    let c = ok(&c, "add-br br-int -- add-port br-int ovpv-h1c");
    ok(
        &c,
        &format!("add-port br-int gre0 -- set interface gre0 type=gre {opts}"),
    )
}

// ---------------------------------------------------------------- reference outputs

#[test]
fn show_matches_reference_01() {
    // outputs/01-ovs-vsctl-show.txt, with rvs's documented order (own port first, then by name;
    // real OVS prints ovpv-c2 before ovpv-c1 because it uses hash order).
    let expected = "\
4c7acb42-0e7d-415c-8e2d-26389d3cb985
    Bridge br0
        datapath_type: netdev
        Port br0
            Interface br0
                type: internal
        Port ovpv-c1
            Interface ovpv-c1
        Port ovpv-c2
            Interface ovpv-c2
";
    assert_eq!(out(&reference(), "show"), expected);
    // Same lines as the real file, as a multiset.
    let real = "\
4c7acb42-0e7d-415c-8e2d-26389d3cb985
    Bridge br0
        datapath_type: netdev
        Port br0
            Interface br0
                type: internal
        Port ovpv-c2
            Interface ovpv-c2
        Port ovpv-c1
            Interface ovpv-c1
";
    let mut a: Vec<&str> = expected.lines().collect();
    let mut b: Vec<&str> = real.lines().collect();
    a.sort_unstable();
    b.sort_unstable();
    assert_eq!(a, b);
}

#[test]
fn list_ports_and_list_br_match_reference_02_03() {
    let c = reference();
    assert_eq!(out(&c, "list-ports br0"), "ovpv-c1\novpv-c2\n");
    assert_eq!(out(&c, "list-br"), "br0\n");
    assert_eq!(out(&c, "list-ifaces br0"), "ovpv-c1\novpv-c2\n");
}

#[test]
fn show_gre_matches_reference() {
    let cases = [
        ("options:remote_ip=192.0.2.2", "{remote_ip=\"192.0.2.2\"}"),
        (
            "options:remote_ip=192.0.2.2 options:key=4660",
            "{key=\"4660\", remote_ip=\"192.0.2.2\"}",
        ),
        (
            "options:remote_ip=192.0.2.2 options:csum=true",
            "{csum=\"true\", remote_ip=\"192.0.2.2\"}",
        ),
        (
            "options:remote_ip=192.0.2.2 options:key=4660 options:csum=true",
            "{csum=\"true\", key=\"4660\", remote_ip=\"192.0.2.2\"}",
        ),
    ];
    for (opts, shown) in cases {
        let expected = format!(
            "\
e2b15129-c96e-4ad1-b36d-935f7fa6660a
    Bridge br-int
        datapath_type: netdev
        Port br-int
            Interface br-int
                type: internal
        Port gre0
            Interface gre0
                type: gre
                options: {shown}
        Port ovpv-h1c
            Interface ovpv-h1c
    Bridge br-phy
        datapath_type: netdev
        Port br-phy
            Interface br-phy
                type: internal
        Port ovpu1
            Interface ovpu1
"
        );
        assert_eq!(out(&gre_host(opts), "show"), expected, "{opts}");
    }
}

#[test]
fn gre_get_and_list_selected_columns() {
    let c = gre_host("options:remote_ip=192.0.2.2 options:key=4660 options:csum=true");
    assert_eq!(
        out(&c, "get interface gre0 options:remote_ip"),
        "\"192.0.2.2\"\n"
    );
    assert_eq!(out(&c, "get interface gre0 type"), "gre\n");
    assert_eq!(
        out(&c, "get interface gre0 options"),
        "{csum=\"true\", key=\"4660\", remote_ip=\"192.0.2.2\"}\n"
    );
    let mut st = FakeStatus::default();
    st.0.insert(
        "gre0".into(),
        IfaceStatus {
            mac_in_use: Some("52:dc:5e:24:99:b4".into()),
            status: [
                ("tunnel_egress_iface".to_string(), "br-phy".to_string()),
                ("tunnel_egress_iface_carrier".to_string(), "up".to_string()),
            ]
            .into_iter()
            .collect(),
            ..Default::default()
        },
    );
    let o = exec_st(
        &c,
        "--columns=mac_in_use,name,ofport,options,status,type list interface gre0",
        &st,
    )
    .unwrap();
    // Lines of outputs/gre-common/h1-ovs-vsctl-list-interface-gre0.txt.
    assert_eq!(
        o.stdout,
        "\
mac_in_use          : \"52:dc:5e:24:99:b4\"
name                : gre0
ofport              : 2
options             : {csum=\"true\", key=\"4660\", remote_ip=\"192.0.2.2\"}
status              : {tunnel_egress_iface=br-phy, tunnel_egress_iface_carrier=up}
type                : gre
"
    );
}

#[test]
fn full_list_interface_has_ovs_columns_in_order() {
    let c = reference();
    let o = out(&c, "list interface ovpv-c1");
    let names: Vec<&str> = o
        .lines()
        .map(|l| l.split(':').next().unwrap_or("").trim_end())
        .collect();
    // Column order of outputs/16-ovs-vsctl-list-interface.txt.
    let real = [
        "_uuid",
        "admin_state",
        "bfd",
        "bfd_status",
        "cfm_fault",
        "cfm_fault_status",
        "cfm_flap_count",
        "cfm_health",
        "cfm_mpid",
        "cfm_remote_mpids",
        "cfm_remote_opstate",
        "duplex",
        "error",
        "external_ids",
        "ifindex",
        "ingress_policing_burst",
        "ingress_policing_kpkts_burst",
        "ingress_policing_kpkts_rate",
        "ingress_policing_rate",
        "lacp_current",
        "link_resets",
        "link_speed",
        "link_state",
        "lldp",
        "mac",
        "mac_in_use",
        "mtu",
        "mtu_request",
        "name",
        "ofport",
        "ofport_request",
        "options",
        "other_config",
        "statistics",
        "status",
        "type",
    ];
    assert_eq!(names, real);
    assert!(o.contains("\ningress_policing_burst: 0\n"), "{o}");
    assert!(o.contains("\ntype                : \"\"\n"), "{o}");
    assert!(o.contains("\nofport              : 1\n"), "{o}");
    assert!(o.contains("\nname                : ovpv-c1\n"), "{o}");
    let o = out(&c, "list interface br0");
    assert!(o.contains("\nofport              : 65534\n"), "{o}");
    assert!(o.contains("\ntype                : internal\n"), "{o}");
}

#[test]
fn iface_types_like_reference_17() {
    let c = reference();
    assert_eq!(
        out(&c, "get Open_vSwitch . iface_types datapath_types"),
        "[afxdp, gre, internal, system, tap]\n[netdev]\n"
    );
}

// ---------------------------------------------------------------- errors/*.txt

#[test]
fn error_add_br_existing() {
    assert_eq!(
        err(&reference(), "add-br br0"),
        "cannot create a bridge named br0 because a bridge named br0 already exists"
    );
}

#[test]
fn error_add_br_may_exist() {
    let c = reference();
    let o = exec(&c, "--may-exist add-br br0").unwrap();
    assert_eq!((o.stdout.as_str(), o.exit_code, o.changed), ("", 0, false));
}

#[test]
fn error_add_port_already_exists() {
    assert_eq!(
        err(&reference(), "add-port br0 ovpv-c1"),
        "cannot create a port named ovpv-c1 because a port named ovpv-c1 already exists on bridge br0"
    );
}

#[test]
fn error_add_port_no_such_bridge() {
    assert_eq!(
        err(&reference(), "add-port nobr ovpv-zz"),
        "no bridge named nobr"
    );
}

#[test]
fn add_port_nonexistent_netdev_reports_added_interface() {
    // errors/add-port-nonexistent-netdev.txt: the transaction succeeds (exit 0); the daemon then
    // reports "Error detected while setting up 'ovpv-nonexist': ..." for added_interfaces.
    let o = exec(&reference(), "add-port br0 ovpv-nonexist").unwrap();
    assert_eq!(o.exit_code, 0);
    assert!(o.changed);
    assert_eq!(o.added_interfaces, vec!["ovpv-nonexist".to_string()]);
    assert_eq!(o.stdout, "");
}

fn bad_port_status() -> FakeStatus {
    let mut st = FakeStatus::default();
    st.0.insert(
        "ovpv-nonexist".into(),
        IfaceStatus {
            error: Some("could not open network device ovpv-nonexist (No such device)".into()),
            ofport_ok: false,
            ..Default::default()
        },
    );
    st
}

#[test]
fn error_list_interface_bad_port() {
    let c = ok(&reference(), "add-port br0 ovpv-nonexist");
    let o = exec_st(
        &c,
        "--columns=name,ofport,error list interface ovpv-nonexist",
        &bad_port_status(),
    )
    .unwrap();
    assert_eq!(
        o.stdout,
        "\
name                : ovpv-nonexist
ofport              : -1
error               : \"could not open network device ovpv-nonexist (No such device)\"
"
    );
}

#[test]
fn error_show_after_bad_port() {
    let c = ok(&reference(), "add-port br0 ovpv-nonexist");
    let o = exec_st(&c, "show", &bad_port_status()).unwrap();
    assert_eq!(
        o.stdout,
        "\
4c7acb42-0e7d-415c-8e2d-26389d3cb985
    Bridge br0
        datapath_type: netdev
        Port br0
            Interface br0
                type: internal
        Port ovpv-c1
            Interface ovpv-c1
        Port ovpv-c2
            Interface ovpv-c2
        Port ovpv-nonexist
            Interface ovpv-nonexist
                error: \"could not open network device ovpv-nonexist (No such device)\"
"
    );
}

#[test]
fn error_del_bad_port() {
    let c = ok(&reference(), "add-port br0 ovpv-nonexist");
    let o = exec(&c, "del-port br0 ovpv-nonexist").unwrap();
    assert_eq!((o.stdout.as_str(), o.exit_code), ("", 0));
    assert!(o.config.port("ovpv-nonexist").is_none());
}

#[test]
fn error_del_br_missing() {
    assert_eq!(err(&reference(), "del-br nobr"), "no bridge named nobr");
}

#[test]
fn error_del_port_missing() {
    assert_eq!(
        err(&reference(), "del-port br0 ovpv-zz"),
        "no port named ovpv-zz"
    );
}

#[test]
fn error_list_ports_missing_br() {
    assert_eq!(err(&reference(), "list-ports nobr"), "no bridge named nobr");
}

// ---------------------------------------------------------------- other OVS wording (checked
// against ovs-vsctl 3.1 with ovsdb-server)

#[test]
fn ovs_wording_of_other_errors() {
    let c = ok(&reference(), "add-br br1 -- add-port br0 p1 tag=10");
    let cases: &[(&str, &str)] = &[
        ("add-br p1", "cannot create a bridge named p1 because a port named p1 already exists on bridge br0"),
        ("add-port br1 p1", "cannot create a port named p1 because a port named p1 already exists on bridge br0"),
        ("add-port br0 br1", "cannot create a port named br1 because a bridge named br1 already exists"),
        ("--may-exist add-port br1 p1", "\"--may-exist add-port br1 p1\" but p1 is actually attached to bridge br0"),
        ("del-port br1 p1", "bridge br1 does not have a port p1"),
        ("del-port nobr p1", "no bridge named nobr"),
        ("del-port br0 br0", "cannot delete port br0 because it is the local port for bridge br0 (deleting this port requires deleting the entire bridge)"),
        ("foo", "unknown command 'foo'; use --help for help"),
        ("", "missing command name (use --help for help)"),
        ("list-br x", "'list-br' command takes at most 0 arguments"),
        ("list-br --if-exists", "'list-br' command takes at most 0 arguments (note that options must precede command names and follow a \"--\" argument)"),
        ("--if-exists list-br", "'list-br' command has no '--if-exists' option"),
        ("-- --if-exists list-br", "'list-br' command has no '--if-exists' option"),
        ("add-br", "'add-br' command requires at least 1 arguments"),
        ("set port", "'set' command requires at least 3 arguments"),
        ("list-ports", "'list-ports' command requires at least 1 arguments"),
        ("del-port p1 p2 p3", "'del-port' command takes at most 2 arguments"),
        ("set port p9 tag=1", "no row \"p9\" in table Port"),
        ("get interface zz name", "no row \"zz\" in table Interface"),
        ("set port p1 tag=4096", "constraint violation: 4096 is not in the valid range 0 to 4095 (inclusive)"),
        ("set port p1 tag=abc", "\"abc\" is not a valid integer or range"),
        ("set port p1 foo=1", "Port does not contain a column whose name matches \"foo\""),
        ("set foo p1 a=1", "unknown table \"foo\""),
        ("set i p1 a=1", "\"i\" matches multiple table names: IPFIX, Interface"),
        ("get port p1 b", "Port contains more than one column whose name matches \"b\": bond_active_slave, bond_downdelay, bond_fake_iface, bond_mode, bond_updelay"),
        ("get interface p1 options:remote_ip", "no key \"remote_ip\" in Interface record \"p1\" column options"),
        ("get port p1 tag:x", "cannot specify key to get for non-map column tag"),
        ("set port p1 tag:x=1", "cannot specify key to set for non-map column tag"),
        ("clear interface p1 name", "cannot modify read-only column name in table Interface"),
        ("clear interface p1 type", "\"clear\" operation cannot be applied to column type of table Interface, which is not allowed to be empty"),
        ("set port p1 vlan_mode=foo", "constraint violation: foo is not one of the allowed values ([access, dot1q-tunnel, native-tagged, native-untagged, trunk])"),
        ("set interface p1 mtu_request=abc", "\"abc\" is not a valid integer or range"),
        ("set interface p1 mtu_request=0", "constraint violation: 0 is less than minimum allowed value 1"),
        ("set interface p1 ofport_request=70000", "constraint violation: 70000 is not in the valid range 1 to 65279 (inclusive)"),
        ("set interface p1 type=", "type=: argument does not end in \"=\" followed by a value."),
        ("set port p1 tag", "tag: argument does not end in \"=\" followed by a value."),
        ("set port p1 tag=1,2", "1,2: 2 value(s) specified but the maximum number is 1"),
        ("set port p1 trunks=1,1", "1,1: set contains duplicate value"),
        ("set interface p1 options={a=1", "{a=1: missing \"}\" at end of data"),
        ("--foo list-br", "unrecognized option '--foo'"),
        ("--d=x list-br", "option '--d=x' is ambiguous; possibilities: '--db' '--dry-run' '--data'"),
        ("--format=foo list-br", "unknown output format \"foo\""),
        ("--data=foo list-br", "unknown data format \"foo\""),
        ("port-to-br zz", "no port named zz"),
        ("iface-to-br zz", "no interface named zz"),
        ("find port tag", "tag: argument does not end in \"=\", \"!=\", \"<\", \">\", \"<=\", \">=\", \"{=}\", \"{!=}\", \"{<}\", \"{>}\", \"{<=}\", \"{>=}\", \"{in}\", or \"{not-in}\" followed by a value."),
        ("find port foo=1", "Port does not contain a column whose name matches \"foo\""),
        ("--columns=name,foo list port", "Port does not contain a column whose name matches \"foo\""),
        ("--columns=name list port p1 zz", "no row \"zz\" in table Port"),
        ("add-port br0 p2 -- add-port br0 p2", "cannot create a port named p2 because a port named p2 already exists on bridge br0"),
        ("set port p1 trunks=5,6]", "5,6]: unexpected \"]\" parsing set of up to 4096 integers"),
        ("set port p1 tag=,", ",: unexpected \",\" parsing set of up to 1 integers"),
        ("set interface p1 options={,}", "{,}: unexpected \",\" parsing map of (string, string) pairs"),
        ("set interface p1 external_ids:b=\"x", "\"x: missing quote at end of quoted string"),
        ("set interface p1 external_ids:\"a=1", "\"a=1: quoted string extends past end of argument"),
        ("set interface p1 external_ids:=1", "An empty string is not valid as input; use \"\" to represent the empty string"),
        ("set port p1 tag=\"5\"", "\"\"5\"\" is not a valid integer or range"),
        ("--columns= list port p1", "must specify at least one column name"),
        ("add-br br0 x", "'add-br' command takes exactly 1 or 3 arguments"),
        ("add-br br0 x 5", "cannot create a bridge named br0 because a bridge named br0 already exists"),
        ("set port p1 fake_bridge=maybe", "\"maybe\" is not a valid boolean (use \"true\" or \"false\")"),
    ];
    for (line, want) in cases {
        assert_eq!(&err(&c, line), want, "{line}");
    }
}

#[test]
fn rvs_specific_errors_name_the_problem() {
    let c = ok(&reference(), "add-port br0 p1");
    let e = err(&c, "set interface p1 type=erspan");
    assert!(e.contains("erspan"), "{e}");
    let e = err(&c, "set interface p1 type=gre");
    assert!(e.contains("remote_ip"), "{e}");
    let e = err(
        &c,
        "set interface p1 type=gre options:remote_ip=10.0.0.2 options:foo=1",
    );
    assert!(e.contains("foo"), "{e}");
    let e = err(&c, "set interface p1 options:x=1");
    assert!(e.contains("\"x\""), "{e}");
    let e = err(&c, "set interface p1 bfd:enable=true");
    assert!(e.contains("bfd") && e.contains("not supported"), "{e}");
    let e = err(&c, "set interface p1 ofport=5");
    assert!(e.contains("ofport"), "{e}");
    let e = err(&c, "list Mirror");
    assert!(e.contains("Mirror"), "{e}");
    let e = err(&c, "add-bond br0 b0 p1 p2");
    assert!(e.contains("add-bond") && e.contains("not supported"), "{e}");
    let e = err(&c, "set bridge br0 other_config:mac-aging-time=soon");
    assert!(e.contains("mac-aging-time"), "{e}");
    let e = err(&c, "set bridge br0 datapath_type=system");
    assert!(e.contains("system"), "{e}");
    let e = err(&c, "add-br b1 br0 10");
    assert!(e.contains("fake"), "{e}");
}

// ---------------------------------------------------------------- commands

#[test]
fn add_br_creates_bridge_port_and_internal_interface() {
    let o = exec(&empty(), "add-br br0").unwrap();
    assert!(o.changed);
    assert_eq!(o.added_interfaces, vec!["br0".to_string()]);
    let br = o.config.bridge("br0").unwrap();
    assert_eq!(br.datapath_type, "netdev");
    assert_eq!(br.ports.len(), 1);
    assert_eq!(br.ports[0].name, "br0");
    assert_eq!(br.ports[0].interfaces[0].type_, "internal");
    assert_eq!(br.ports[0].interfaces[0].ofport, 65534);
    assert!(crate::config::is_uuid(&br.uuid));
}

#[test]
fn del_br_removes_everything() {
    let c = ok(&reference(), "del-br br0");
    assert!(c.bridges.is_empty());
    let o = exec(&c, "--if-exists del-br br0").unwrap();
    assert!(!o.changed);
}

#[test]
fn br_exists_exit_codes() {
    let c = reference();
    assert_eq!(exec(&c, "br-exists br0").unwrap().exit_code, 0);
    assert_eq!(exec(&c, "br-exists nobr").unwrap().exit_code, 2);
}

#[test]
fn add_port_with_column_settings() {
    let c = ok(&reference(), "add-port br0 p1 tag=10 other_config:x=y");
    let (_, p) = c.port("p1").unwrap();
    assert_eq!(p.tag, Some(10));
    assert_eq!(p.other_config.get("x").map(String::as_str), Some("y"));
    assert_eq!(out(&c, "get port p1 tag"), "10\n");
    assert!(out(&c, "show")
        .contains("        Port p1\n            tag: 10\n            Interface p1\n"));
}

#[test]
fn may_exist_add_port_keeps_port_and_chain_sets_external_ids() {
    let c = reference();
    let line = "--may-exist add-port br0 p1 -- set interface p1 external_ids:container_id=c1 external_ids:container_iface=eth1";
    let c1 = ok(&c, line);
    let c2 = ok(&c1, line);
    assert_eq!(c1, c2);
    assert_eq!(
        out(&c2, "--data=bare --no-heading --columns=name find interface external_ids:container_id=c1 external_ids:container_iface=eth1"),
        "p1\n"
    );
    // Settings are not applied when the port already exists (as OVS).
    let c3 = ok(&c2, "--may-exist add-port br0 p1 tag=7");
    assert_eq!(c3.port("p1").unwrap().1.tag, None);
}

#[test]
fn del_port_forms() {
    let c = ok(&reference(), "add-port br0 p1");
    assert!(ok(&c, "del-port p1").port("p1").is_none());
    assert!(ok(&c, "del-port br0 p1").port("p1").is_none());
    let o = exec(&c, "--if-exists del-port p9").unwrap();
    assert!(!o.changed);
    assert!(ok(&c, "--with-iface del-port p1").port("p1").is_none());
    assert_eq!(
        err(&c, "--with-iface del-port p9"),
        "no port or interface named p9"
    );
}

#[test]
fn port_and_iface_to_br() {
    let c = ok(&reference(), "add-br br1 -- add-port br1 p1");
    assert_eq!(out(&c, "port-to-br p1"), "br1\n");
    assert_eq!(out(&c, "iface-to-br p1"), "br1\n");
    assert_eq!(out(&c, "port-to-br br1"), "br1\n");
    assert_eq!(out(&c, "br-to-vlan br1"), "0\n");
    assert_eq!(out(&c, "br-to-parent br1"), "br1\n");
}

#[test]
fn br_external_ids() {
    let c = ok(&reference(), "br-set-external-id br0 k v");
    assert_eq!(out(&c, "br-get-external-id br0 k"), "v\n");
    assert_eq!(out(&c, "br-get-external-id br0"), "k=v\n");
    let c = ok(&c, "br-set-external-id br0 k");
    assert_eq!(out(&c, "br-get-external-id br0"), "");
}

#[test]
fn set_get_port_vlan_columns() {
    let c = ok(&reference(), "add-port br0 p1 -- set port p1 tag=10");
    assert_eq!(out(&c, "get port p1 tag trunks vlan_mode"), "10\n[]\n[]\n");
    let c = ok(&c, "clear port p1 tag");
    assert_eq!(out(&c, "get port p1 tag"), "[]\n");
    let c = ok(&c, "set port p1 trunks=10,20 vlan_mode=trunk");
    assert_eq!(out(&c, "get port p1 trunks"), "[10, 20]\n");
    assert_eq!(out(&c, "get port p1 vlan_mode"), "trunk\n");
    let c = ok(&c, "set port p1 trunks=[30]");
    assert_eq!(out(&c, "get port p1 trunks"), "[30]\n");
    let c = ok(&c, "add port p1 trunks 5 6 -- remove port p1 trunks 6");
    assert_eq!(out(&c, "get port p1 trunks"), "[5, 30]\n");
    let c = ok(&c, "set port p1 tag=07");
    assert_eq!(out(&c, "get port p1 tag"), "7\n");
    let c = ok(&c, "set port p1 'trunks=5 6'");
    assert_eq!(out(&c, "get port p1 trunks"), "[5, 6]\n");
    let c = ok(&c, "set port p1 'trunks=[7 8]'");
    assert_eq!(out(&c, "get port p1 trunks"), "[7, 8]\n");
    let c = ok(&c, "set port p1 tag=[]");
    assert_eq!(c.port("p1").unwrap().1.tag, None);
    let c = ok(&c, "add port p1 tag 5");
    assert_eq!(c.port("p1").unwrap().1.tag, Some(5));
    let e = err(&c, "add port p1 tag 6");
    assert!(e.contains("maximum number is 1"), "{e}");
    let c = ok(&c, "remove port p1 tag 5");
    assert_eq!(c.port("p1").unwrap().1.tag, None);
}

#[test]
fn set_interface_gre() {
    let c = ok(&reference(), "add-port br0 gre0");
    let c = ok(
        &c,
        "set interface gre0 type=gre options:remote_ip=10.0.0.2 options:key=flow",
    );
    assert_eq!(
        out(&c, "get interface gre0 options:remote_ip options:key type"),
        "\"10.0.0.2\"\nflow\ngre\n"
    );
    let (_, _, i) = c.interface("gre0").unwrap();
    assert_eq!(i.type_, "gre");
    assert_eq!(
        i.options.get("remote_ip").map(String::as_str),
        Some("10.0.0.2")
    );
    // Whole-map syntax replaces the map.
    let c = ok(
        &c,
        "set interface gre0 options={remote_ip=\"10.0.0.3\",csum=true}",
    );
    assert_eq!(
        out(&c, "get interface gre0 options"),
        "{csum=\"true\", remote_ip=\"10.0.0.3\"}\n"
    );
    // Back to a system interface in one transaction.
    let c = ok(
        &c,
        "clear interface gre0 options -- set interface gre0 type=system",
    );
    assert_eq!(c.interface("gre0").unwrap().2.type_, "system");
    let c = ok(&c, "set interface gre0 type='\"\"'");
    assert_eq!(c.interface("gre0").unwrap().2.type_, "");
}

#[test]
fn set_bridge_other_config() {
    let c = ok(
        &reference(),
        "set bridge br0 other_config:mac-aging-time=30",
    );
    assert_eq!(
        c.bridge("br0")
            .unwrap()
            .other_config
            .get("mac-aging-time")
            .map(String::as_str),
        Some("30")
    );
    assert_eq!(
        out(&c, "get bridge br0 other_config:mac-aging-time"),
        "\"30\"\n"
    );
    let c = ok(&c, "set bridge br0 other_config:mac-table-size=2048 -- set open . other_config:pmd-cpu-mask=0x6");
    assert_eq!(
        c.other_config.get("pmd-cpu-mask").map(String::as_str),
        Some("0x6")
    );
    let c = ok(&c, "remove bridge br0 other_config mac-aging-time");
    assert!(!c
        .bridge("br0")
        .unwrap()
        .other_config
        .contains_key("mac-aging-time"));
}

#[test]
fn map_add_remove_semantics() {
    let c = ok(&reference(), "add-port br0 p1 -- set interface p1 external_ids:container_id=c1 external_ids:container_iface=eth1 'external_ids:x=\"a b\"'");
    let c = ok(&c, "add interface p1 external_ids container_id=zz new=1");
    assert_eq!(
        out(&c, "get interface p1 external_ids"),
        "{container_id=zz, container_iface=eth1, new=\"1\", x=\"a b\"}\n"
    );
    let c = ok(&c, "remove interface p1 external_ids new container_id=c2");
    assert_eq!(
        out(&c, "get interface p1 external_ids"),
        "{container_id=zz, container_iface=eth1, x=\"a b\"}\n"
    );
    let c = ok(&c, "remove interface p1 external_ids container_id=zz");
    assert_eq!(
        out(&c, "get interface p1 external_ids"),
        "{container_iface=eth1, x=\"a b\"}\n"
    );
    assert_eq!(
        out(&c, "--if-exists get interface p1 external_ids:nokey"),
        "\n"
    );
    assert_eq!(out(&c, "--if-exists get interface zz name"), "");
    let c = ok(&c, "set interface p1 'external_ids:k=\"a\\nb\"'");
    assert_eq!(out(&c, "get interface p1 external_ids:k"), "\"a\\nb\"\n");
}

#[test]
fn list_and_find_formats() {
    let c = ok(
        &reference(),
        "add-port br0 p1 -- set interface p1 external_ids:container_id=c1 external_ids:container_iface=eth1 'external_ids:x=\"a b\"'",
    );
    assert_eq!(
        out(&c, "--bare --columns=name find interface"),
        "br0\n\novpv-c1\n\novpv-c2\n\np1\n"
    );
    assert_eq!(
        out(&c, "--format=table --columns=name,type,external_ids find interface external_ids:container_id=c1"),
        "\
name type external_ids
---- ---- ------------------------------------------------
p1   \"\"   {container_id=c1, container_iface=eth1, x=\"a b\"}
"
    );
    assert_eq!(
        out(&c, "--format=csv --columns=name,type,external_ids list interface p1 br0"),
        "name,type,external_ids\np1,\"\"\"\"\"\",\"{container_id=c1, container_iface=eth1, x=\"\"a b\"\"}\"\nbr0,internal,{}\n"
    );
    assert_eq!(
        out(&c, "--format=json --columns=name,type,external_ids,ofport_request list interface p1"),
        "{\"data\":[[\"p1\",\"\",[\"map\",[[\"container_id\",\"c1\"],[\"container_iface\",\"eth1\"],[\"x\",\"a b\"]]],[\"set\",[]]]],\"headings\":[\"name\",\"type\",\"external_ids\",\"ofport_request\"]}\n"
    );
    assert_eq!(
        out(&c, "--data=json --columns=name,external_ids,ofport_request list interface br0"),
        "name                : \"br0\"\nexternal_ids        : [\"map\",[]]\nofport_request      : [\"set\",[]]\n"
    );
    assert_eq!(
        out(
            &c,
            "--format=table --no-headings --columns=name,type list interface br0 p1"
        ),
        "br0 internal\np1  \"\"\n"
    );
    // Two tables in one invocation are separated by a blank line (as OVS).
    assert_eq!(
        out(
            &c,
            "--columns=name list interface br0 -- list-br -- --columns=name list bridge"
        ),
        "name                : br0\nbr0\n\nname                : br0\n"
    );
    assert_eq!(
        out(&c, "--if-exists --columns=name list port p1 zz"),
        "name                : p1\n"
    );
    assert_eq!(out(&c, "--bare --columns=name find port tag=5"), "");
    assert_eq!(
        out(
            &c,
            "--bare --columns=name find interface 'external_ids:container_id!=zz'"
        ),
        "p1\n"
    );
    assert_eq!(
        out(&c, "--bare --columns=name find interface type=internal"),
        "br0\n"
    );
    assert_eq!(
        out(
            &c,
            "--bare --columns=name find interface 'external_ids{>=}{container_id=c1}'"
        ),
        "p1\n"
    );
    // A scalar column takes one value even with {in} (as OVS).
    assert_eq!(
        err(
            &c,
            "--bare --columns=name find interface 'name{in}[p1,br0]'"
        ),
        "[p1,br0]: 2 value(s) specified but the maximum number is 1"
    );
    assert_eq!(
        out(&c, "--bare --columns=name find interface 'name{in}p1'"),
        "p1\n"
    );
    assert_eq!(
        out(&c, "--bare --columns=name find port 'trunks{in}[1,2]'"),
        ""
    );
    assert_eq!(
        out(&c, "--bare --columns=name find interface ofport<2"),
        "ovpv-c1\n"
    );
}

#[test]
fn list_uuid_references() {
    let c = reference();
    let br = c.bridge("br0").unwrap();
    let mut ports: Vec<&str> = br.ports.iter().map(|p| p.uuid.as_str()).collect();
    ports.sort_unstable();
    assert_eq!(
        out(&c, "get bridge br0 ports"),
        format!("[{}]\n", ports.join(", "))
    );
    assert_eq!(out(&c, "get open . _uuid"), format!("{UUID0}\n"));
    assert_eq!(
        out(&c, "get open_vswitch . bridges"),
        format!("[{}]\n", br.uuid)
    );
    // Rows can be named by UUID and by an abbreviated UUID.
    assert_eq!(out(&c, &format!("get bridge {} name", br.uuid)), "br0\n");
    assert_eq!(
        out(&c, &format!("get bridge {} name", &br.uuid[..8])),
        "br0\n"
    );
}

#[test]
fn options_and_abbreviations() {
    let c = reference();
    // Connection options are accepted and ignored.
    for line in [
        "--db=unix:/tmp/x.sock list-br",
        "--db unix:/tmp/x.sock list-br",
        "-t 5 list-br",
        "-t5 list-br",
        "--timeout=5 --no-wait -v list-br",
        "-vconsole:off --target=/run/rvs/rvsd.ctl list-br",
        "--no-heading list-br",
        "--retry --no-wait list-br",
        "-- list-br",
    ] {
        assert_eq!(out(&c, line), "br0\n", "{line}");
    }
    assert_eq!(
        out(&c, "-f csv -d bare --columns=name list bridge"),
        "name\nbr0\n"
    );
    assert_eq!(out(&c, "-fcsv --columns=name list bridge"), "name\nbr0\n");
    assert_eq!(
        out(&c, "--oneline list-br -- list-ports br0 -- br-exists br0"),
        "br0\novpv-c1\\novpv-c2\n\n"
    );
    assert!(out(&c, "--version").contains("ovs-vsctl"));
    assert!(out(&c, "--help").contains("add-port"));
    // Table names are case-insensitive with unique prefixes.
    assert_eq!(out(&c, "get BRIDGE br0 name"), "br0\n");
    assert_eq!(out(&c, "get br br0 name"), "br0\n");
    assert_eq!(out(&c, "get int br0 type"), "internal\n");
    assert_eq!(out(&c, "get o . datapath_types"), "[netdev]\n");
    // Column prefixes.
    assert_eq!(out(&c, "get interface br0 ty"), "internal\n");
}

#[test]
fn dry_run_changes_nothing() {
    let c = reference();
    let o = exec(&c, "--dry-run add-port br0 p1").unwrap();
    assert!(!o.changed);
    assert_eq!(o.config, c);
}

// ---------------------------------------------------------------- transactions

#[test]
fn chain_is_all_or_nothing() {
    let c = reference();
    for line in [
        "add-port br0 p1 -- add-port nobr p2",
        "add-port br0 p1 -- set port p1 tag=5000",
        "add-br br1 -- add-port br1 p1 -- set interface p1 type=gre",
        "del-br br0 -- foo",
        "set bridge br0 other_config:mac-aging-time=30 -- del-port br0 nope",
    ] {
        assert!(exec(&c, line).is_err(), "{line}");
    }
    // The caller's config is untouched, and the first command alone works.
    assert_eq!(c, reference_like(&c));
    assert!(exec(&c, "add-port br0 p1").is_ok());
}

fn reference_like(c: &Config) -> Config {
    c.clone()
}

#[test]
fn chain_sees_its_own_changes() {
    let c = reference();
    let o = exec(
        &c,
        "add-port br0 p1 -- set port p1 tag=10 -- get port p1 tag -- del-port p1 -- add-port br0 p1 -- get port p1 tag",
    )
    .unwrap();
    assert_eq!(o.stdout, "10\n[]\n");
    assert_eq!(o.added_interfaces, vec!["p1".to_string()]);
}

#[test]
fn unchanged_when_read_only() {
    let c = reference();
    for line in [
        "show",
        "list interface",
        "list-br",
        "get port ovpv-c1 tag",
        "init",
    ] {
        let o = exec(&c, line).unwrap();
        assert!(!o.changed, "{line}");
        assert!(o.added_interfaces.is_empty());
    }
}

#[test]
fn ofports_assigned_like_ovs() {
    let c = reference();
    let of = |c: &Config, n: &str| c.interface(n).unwrap().2.ofport;
    assert_eq!(of(&c, "br0"), 65534);
    assert_eq!(of(&c, "ovpv-c1"), 1);
    assert_eq!(of(&c, "ovpv-c2"), 2);
    let c = ok(&c, "del-port ovpv-c1 -- add-port br0 x0");
    assert_eq!(of(&c, "x0"), 1);
    assert_eq!(of(&c, "ovpv-c2"), 2);
    let c = ok(&c, "add-port br0 r -- set interface r ofport_request=10");
    assert_eq!(of(&c, "r"), 10);
    assert_eq!(out(&c, "get interface r ofport"), "10\n");
}

#[test]
fn never_panics_on_odd_input() {
    let c = ok(
        &gre_host("options:remote_ip=192.0.2.2"),
        "add-port br-int p1 tag=1",
    );
    let words = [
        "--",
        "-",
        "--=",
        "-t",
        "-f",
        "-d",
        "--columns=",
        "--columns=,",
        "set",
        "get",
        "find",
        "list",
        "add",
        "remove",
        "clear",
        "interface",
        "port",
        "bridge",
        "open",
        ".",
        "p1",
        "gre0",
        "br-int",
        "tag=",
        "tag=[",
        "tag={",
        "options:",
        "options:=",
        ":",
        "=",
        "\"",
        "\\",
        "options:\"",
        "external_ids:\"a=b",
        "{=}",
        "name{in}",
        "trunks=[1,",
        "\u{e9}",
        "ofport<",
        "add-port",
        "del-port",
        "add-br",
        "del-br",
        "show",
        "--if-exists",
        "--may-exist",
        "options={a",
        "options={a=\"",
        "_uuid",
        "_uuid=x",
        "tag=-1",
        "tag=99999999999999999999",
    ];
    // Deterministic pseudo-random argv (xorshift).
    let mut x: u64 = 0x1234_5678_9abc_def0;
    for _ in 0..20_000 {
        let mut argv = Vec::new();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let n = (x % 7) as usize;
        for _ in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            argv.push(words[(x % words.len() as u64) as usize].to_string());
        }
        let _ = execute(&c, &argv, &NoStatus);
    }
}

#[test]
fn interface_struct_defaults() {
    let i = Interface::new("x");
    assert_eq!(i.type_, "");
    assert_eq!(i.ofport, 0);
    assert!(IfaceStatus::default().ofport_ok);
}
