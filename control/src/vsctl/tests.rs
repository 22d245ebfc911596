//! Unit tests of the ovs-vsctl engine: the reference outputs of real OVS 3.1
//! (`control/testdata/ovs-reference`, embedded here), the database OVS builds for fake bridges
//! and bonds and the configuration rvsd derives from it, transactions (all or nothing,
//! provisional UUIDs, row ids, garbage collection, referential integrity), switch-reported
//! columns, and robustness. The wording of every message is checked against real OVS by the
//! differential test (`control/tests/vsctl_diff.rs`).

use super::*;
use crate::vswitchd::config_from_replica;

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

fn exec_st(db: &Database, line: &str, st: &dyn Status) -> Result<Outcome, VsctlError> {
    execute(db, &args(line), st)
}

fn exec(db: &Database, line: &str) -> Result<Outcome, VsctlError> {
    exec_st(db, line, &NoStatus)
}

/// Runs a command line that must succeed; returns the new database, with the switch's
/// report (assigned ofports) written as rvsd writes it.
fn ok(db: &Database, line: &str) -> Database {
    match exec(db, line) {
        Ok(o) => {
            let mut db = o.db;
            crate::daemon::desired(&mut db);
            db
        }
        Err(e) => panic!("{line}: {}", e.message),
    }
}

fn out(db: &Database, line: &str) -> String {
    match exec(db, line) {
        Ok(o) => o.stdout,
        Err(e) => panic!("{line}: {}", e.message),
    }
}

fn err(db: &Database, line: &str) -> String {
    match exec(db, line) {
        Ok(o) => panic!("{line}: unexpectedly succeeded:\n{}", o.stdout),
        Err(e) => e.message,
    }
}

/// A database with just its Open_vSwitch row, of a known UUID.
fn empty(uuid: &str) -> Database {
    let mut db = Database::new();
    db.insert("Open_vSwitch", uuid);
    Database::commit(&Database::new(), db, &[]).unwrap().0
}

/// The single-host reference setup: br0 (netdev) with ovpv-c1 and ovpv-c2.
fn reference() -> Database {
    let db = ok(
        &empty(UUID0),
        "add-br br0 -- set bridge br0 datapath_type=netdev",
    );
    let db = ok(&db, "add-port br0 ovpv-c1");
    ok(&db, "add-port br0 ovpv-c2")
}

/// The GRE host h1: br-int (container port + gre0) and br-phy.
fn gre_host(opts: &str) -> Database {
    let db = empty("e2b15129-c96e-4ad1-b36d-935f7fa6660a");
    let db = ok(
        &db,
        "add-br br-phy -- set bridge br-phy datapath_type=netdev -- add-port br-phy ovpu1",
    );
    let db = ok(
        &db,
        "add-br br-int -- set bridge br-int datapath_type=netdev -- add-port br-int ovpv-h1c",
    );
    ok(
        &db,
        &format!("add-port br-int gre0 -- set interface gre0 type=gre {opts}"),
    )
}

// ---------------------------------------------------------------- reference outputs

#[test]
fn show_matches_reference_01() {
    // outputs/01-ovs-vsctl-show.txt, in rvs's order (own port first, then by name; OVS
    // prints ports in UUID order).
    assert_eq!(
        out(&reference(), "show"),
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
"
    );
}

#[test]
fn list_ports_and_list_br_match_reference_02_03() {
    let db = reference();
    assert_eq!(out(&db, "list-ports br0"), "ovpv-c1\novpv-c2\n");
    assert_eq!(out(&db, "list-br"), "br0\n");
    assert_eq!(out(&db, "list-ifaces br0"), "ovpv-c1\novpv-c2\n");
}

#[test]
fn show_gre_matches_reference() {
    for (opts, shown) in [
        ("options:remote_ip=192.0.2.2", "{remote_ip=\"192.0.2.2\"}"),
        (
            "options:remote_ip=192.0.2.2 options:key=4660 options:csum=true",
            "{csum=\"true\", key=\"4660\", remote_ip=\"192.0.2.2\"}",
        ),
    ] {
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
fn gre_list_selected_columns_with_switch_state() {
    let db = gre_host("options:remote_ip=192.0.2.2 options:key=4660 options:csum=true");
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
        &db,
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
fn full_list_interface_has_every_ovs_column_in_order() {
    let o = out(&reference(), "list interface ovpv-c1");
    let names: Vec<&str> = o
        .lines()
        .map(|l| l.split(':').next().unwrap_or("").trim_end())
        .collect();
    let schema = crate::ovsdb::schema::vswitch();
    let want: Vec<&str> = std::iter::once("_uuid")
        .chain(
            schema.tables["Interface"]
                .columns
                .keys()
                .map(String::as_str),
        )
        .collect();
    assert_eq!(names, want);
    assert!(o.contains("\ningress_policing_burst: 0\n"), "{o}");
    assert!(o.contains("\ntype                : \"\"\n"), "{o}");
    assert!(o.contains("\nofport              : 1\n"), "{o}");
    let o = out(&reference(), "list interface br0");
    assert!(o.contains("\nofport              : 65534\n"), "{o}");
}

#[test]
fn interfaces_the_switch_could_not_set_up() {
    let db = ok(&reference(), "add-port br0 ovpv-nonexist");
    let o = exec(&reference(), "add-port br0 ovpv-nonexist").unwrap();
    assert_eq!(o.added_interfaces, vec!["ovpv-nonexist".to_string()]);
    let o = exec(&reference(), "--no-wait add-port br0 x").unwrap();
    assert!(o.added_interfaces.is_empty(), "--no-wait checks nothing");
    let mut st = FakeStatus::default();
    st.0.insert(
        "ovpv-nonexist".into(),
        IfaceStatus {
            error: Some("could not open network device ovpv-nonexist (No such device)".into()),
            ofport_ok: false,
            ..Default::default()
        },
    );
    let o = exec_st(
        &db,
        "--columns=name,ofport,error list interface ovpv-nonexist",
        &st,
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
    let show = exec_st(&db, "show", &st).unwrap().stdout;
    assert!(show.ends_with(
        "        Port ovpv-nonexist
            Interface ovpv-nonexist
                error: \"could not open network device ovpv-nonexist (No such device)\"
"
    ));
}

// ---------------------------------------------------------------- fake bridges and bonds

#[test]
fn fake_bridges_are_ports_of_their_parent_tagged_with_their_vlan() {
    let db = ok(
        &empty(UUID0),
        "add-br xenbr0 -- add-port xenbr0 eth0 -- add-br xapi1 xenbr0 9 -- add-port xapi1 eth0.9",
    );
    assert_eq!(out(&db, "list-br"), "xapi1\nxenbr0\n");
    assert_eq!(out(&db, "br-to-parent xapi1"), "xenbr0\n");
    assert_eq!(out(&db, "br-to-vlan xapi1"), "9\n");
    assert_eq!(out(&db, "list-ports xapi1"), "eth0.9\n");
    assert_eq!(out(&db, "list-ports xenbr0"), "eth0\n");
    // As OVS stores it: one Bridge row; the fake bridge is a fake_bridge port with its tag.
    assert_eq!(out(&db, "--bare --columns=name list bridge"), "xenbr0\n");
    assert_eq!(
        out(&db, "--bare --columns=name,fake_bridge,tag list port xapi1"),
        "xapi1\ntrue\n9\n"
    );
    assert_eq!(out(&db, "get port eth0.9 tag"), "9\n");
    assert_eq!(out(&db, "get interface xapi1 type"), "internal\n");
    // The datapath gets both on the parent: the internal port and eth0.9 in VLAN 9.
    let cfg = config_from_replica(db.replica());
    assert_eq!(cfg.bridges.len(), 1);
    let (br, p) = cfg.port("eth0.9").unwrap();
    assert_eq!((br.name.as_str(), p.tag), ("xenbr0", Some(9)));
    let (br, p) = cfg.port("xapi1").unwrap();
    assert_eq!((br.name.as_str(), p.tag), ("xenbr0", Some(9)));
    assert_eq!(p.interfaces[0].type_, "internal");
    // Deleting the parent deletes the fake bridge and its ports.
    let db = ok(&db, "del-br xenbr0");
    assert_eq!(out(&db, "list-br"), "");
    assert_eq!(out(&db, "--bare --columns=name list port"), "");
}

#[test]
fn bonds_are_stored_and_forward_through_their_first_interface() {
    let db = ok(
        &reference(),
        "add-bond br0 bond0 a2 a1 -- set port bond0 bond_mode=active-backup",
    );
    assert_eq!(out(&db, "list-ifaces br0"), "a1\na2\novpv-c1\novpv-c2\n");
    let cfg = config_from_replica(db.replica());
    let (_, bond) = cfg.port("bond0").unwrap();
    let names: Vec<&str> = bond.interfaces.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["a1", "a2"]);
    assert_eq!(crate::unsupported::bond_member_unused(&cfg, "a1"), None);
    let why = crate::unsupported::bond_member_unused(&cfg, "a2").unwrap();
    assert!(why.contains("bond0") && why.contains("a1"), "{why}");
    let notes = crate::unsupported::notes(db.replica());
    assert!(
        notes.iter().any(|n| n.table == "Port" && n.key == "bond"),
        "{notes:?}"
    );
}

// ---------------------------------------------------------------- transactions

#[test]
fn a_chain_is_all_or_nothing_and_sees_its_own_writes() {
    let db = reference();
    assert_eq!(
        err(&db, "add-br br1 -- add-port nobr p1"),
        "no bridge named nobr"
    );
    let o = exec(&db, "add-br br1 -- add-port br1 p1 -- list-ports br1").unwrap();
    assert_eq!(o.stdout, "p1\n");
    // br-exists of a missing bridge exits 2 at once: nothing printed, nothing committed.
    let e = exec(&db, "add-br br2 -- list-br -- br-exists nobr").unwrap_err();
    assert_eq!((e.exit_code, e.message.as_str()), (2, ""));
    let o = exec(&db, "--dry-run add-br br3").unwrap();
    assert!(!o.changed);
    assert_eq!(o.db, db);
}

#[test]
fn created_rows_get_fresh_uuids_at_commit() {
    let o = exec(
        &reference(),
        "--id=@b create bridge name=b1 -- add open . bridges @b -- get bridge b1 _uuid",
    )
    .unwrap();
    let lines: Vec<&str> = o.stdout.lines().collect();
    // As OVS documents: the UUID `create` prints is the committed one, a later command of the
    // same invocation saw the provisional one.
    assert_ne!(lines[0], lines[1]);
    assert_eq!(out(&o.db, "get bridge b1 _uuid").trim(), lines[0]);
}

#[test]
fn unreferenced_rows_vanish_with_ovs_warnings() {
    let o = exec(&reference(), "create Bridge name=x").unwrap();
    assert!(o.stderr.contains(
        "|00002|db_ctl_base|WARN|applying \"create\" command to table Bridge without --id option will have no effect\n"
    ), "{}", o.stderr);
    assert_eq!(out(&o.db, "list-br"), "br0\n");
    let o = exec(&reference(), "--id=@x create Bridge name=x").unwrap();
    assert!(o.stderr.contains("|vsctl|WARN|row id \"@x\" was created but no reference to it was inserted, so it will not actually appear in the database\n"), "{}", o.stderr);
    // Timestamps as OVS's console log prints them.
    let t = o.stderr.split('|').next().unwrap();
    assert_eq!((t.len(), &t[4..5], &t[19..20]), (20, "-", "Z"), "{t}");
}

#[test]
fn referential_integrity_as_ovsdb_server() {
    let e = exec(
        &reference(),
        "--id=@p create port name=p -- add bridge br0 ports @p",
    )
    .unwrap_err();
    assert!(
        e.message.starts_with("transaction error: {\"details\":\"Table Port column interfaces row ")
            && e.message.contains("references nonexistent row 00000000-0000-0000-0000-000000000000 in table Interface.\",\"error\":\"referential integrity violation\"}"),
        "{}",
        e.message
    );
    assert!(
        e.stderr.contains("|ovsdb_idl|WARN|transaction error: "),
        "{}",
        e.stderr
    );
    let e = exec(&reference(), "destroy port ovpv-c1").unwrap_err();
    assert!(
        e.message.contains("because of 1 remaining reference(s)"),
        "{}",
        e.message
    );
    // Deleting the reference too garbage-collects the port and its interface.
    let db = ok(
        &reference(),
        "--id=@p get port ovpv-c1 -- remove bridge br0 ports @p",
    );
    let db = ok(
        &db,
        "--id=@p get port ovpv-c2 -- remove bridge br0 ports @p",
    );
    assert_eq!(out(&db, "--bare --columns=name list interface"), "br0\n");
}

#[test]
fn wait_until_asks_to_come_back() {
    let o = exec(&reference(), "wait-until bridge br9").unwrap();
    assert!(o.retry && !o.changed);
    let o = exec(&reference(), "wait-until bridge br0 -- get bridge br0 name").unwrap();
    assert!(!o.retry);
    assert_eq!(o.stdout, "br0\n");
}

#[test]
fn names_match_as_in_ovs() {
    let db = ok(&reference(), "set Interface ovpv-c1 external-ids:k=v");
    assert_eq!(out(&db, "get interface ovpv-c1 external_ids:k"), "v\n");
    assert_eq!(out(&db, "get INTERFACE ovpv-c1 EXTERNAL-IDS"), "{k=v}\n");
    assert_eq!(out(&db, "get in ovpv-c1 ext"), "{k=v}\n");
    assert_eq!(out(&db, "get o . bridges").len(), 39);
    assert_eq!(out(&db, "port-to-br ovpv-c1"), "br0\n");
    assert_eq!(err(&db, "port-to-br br0"), "no port named br0");
    assert!(exec(&db, "--if-exists del-port br0 br0").is_ok());
}

#[test]
fn version_and_help_need_no_database() {
    let v = out(&Database::new(), "-V");
    assert_eq!(v, "ovs-vsctl (Open vSwitch) 3.1.0\nDB Schema 8.3.1\n");
    assert!(out(&Database::new(), "--help").contains("add-br BRIDGE PARENT VLAN"));
    let inv = parse(&args("--no-wait -t 5 --db=unix:/x add-br b")).unwrap();
    assert!(inv.no_wait && inv.timeout == Some(5) && inv.db.as_deref() == Some("unix:/x"));
}

#[test]
fn table_formats() {
    let db = ok(&reference(), "set port ovpv-c1 tag=10 trunks=1,2");
    let f = |o: &str| {
        out(
            &db,
            &format!("{o} --columns=name,tag,trunks list port ovpv-c1"),
        )
    };
    assert_eq!(
        f("--format=table"),
        "name    tag trunks\n------- --- ------\novpv-c1 10  [1, 2]\n"
    );
    assert_eq!(
        f("--format=csv"),
        "name,tag,trunks\novpv-c1,10,\"[1, 2]\"\n"
    );
    assert_eq!(
        f("--format=json"),
        "{\"data\":[[\"ovpv-c1\",10,[\"set\",[1,2]]]],\"headings\":[\"name\",\"tag\",\"trunks\"]}\n"
    );
    assert_eq!(f("--bare"), "ovpv-c1\n10\n1 2\n");
    assert_eq!(
        f("--format=json --pretty"),
        "{\n  \"data\": [\n    [\n      \"ovpv-c1\",\n      10,\n      [\n        \"set\",\n        [\n          1,\n          2]]]],\n  \"headings\": [\n    \"name\",\n    \"tag\",\n    \"trunks\"]}\n"
    );
}

#[test]
fn never_panics_on_odd_input() {
    let db = ok(
        &gre_host("options:remote_ip=192.0.2.2"),
        "add-port br-int p1 tag=1 -- add-br f br-int 5 -- add-bond br-phy b a1 a2",
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
        "--id=@a",
        "--id=",
        "set",
        "get",
        "find",
        "list",
        "add",
        "remove",
        "clear",
        "create",
        "destroy",
        "wait-until",
        "interface",
        "port",
        "bridge",
        "open",
        "mirror",
        "qos",
        ".",
        "p1",
        "gre0",
        "br-int",
        "f",
        "b",
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
        "add-bond",
        "del-bond-iface",
        "emer-reset",
        "show",
        "--if-exists",
        "--may-exist",
        "--all",
        "options={a",
        "options={a=\"",
        "_uuid",
        "_uuid=x",
        "tag=-1",
        "tag=99999999999999999999",
        "trunks=1-4095",
        "@a",
        "interfaces=@a",
        "ports=[]",
        "bridges=[]",
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
        if let Ok(o) = execute(&db, &argv, &NoStatus) {
            if o.changed {
                // Whatever committed passes the checks of a load.
                Database::from_json(&o.db.to_json()).unwrap();
            }
        }
    }
}
