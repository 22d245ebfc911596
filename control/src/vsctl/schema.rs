//! The OVS 3.1 `vswitch.ovsschema` column types of the four tables rvs serves, generated from
//! Debian's openvswitch-switch 3.1 schema (schema version 8.3.1). Every OVS column can be read (rvs
//! reports the OVS default for columns it does not model); only modelled columns can be written.
//!
//! Invariant: columns are listed in alphabetical order (the order `ovs-vsctl list` prints,
//! after `_uuid`), and `min`/`max` follow OVSDB (`max == u32::MAX` means unlimited).

/// Atomic type of a column's keys or values.
pub(crate) use crate::ovsdb::AtomicType as Base;

/// Type of one key or value, with its constraints.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BaseType {
    pub base: Base,
    pub min_int: Option<i64>,
    pub max_int: Option<i64>,
    pub enum_: Option<&'static [&'static str]>,
}

/// An OVSDB column type.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ColType {
    pub key: BaseType,
    pub value: Option<BaseType>,
    pub min: u32,
    pub max: u32,
}

impl ColType {
    /// The same type as the OVSDB client module spells it (atomic types and counts; the
    /// constraints are left out), for the JSON wire form and defaults.
    pub(crate) fn wire(&self) -> crate::ovsdb::ColumnType {
        let base = |b: &BaseType| crate::ovsdb::BaseType::plain(b.base);
        crate::ovsdb::ColumnType {
            key: base(&self.key),
            value: self.value.as_ref().map(base),
            min: self.min,
            max: self.max,
        }
    }
}

/// One column: name, type, and whether OVS lets clients change it.
#[derive(Debug)]
pub(crate) struct Column {
    pub name: &'static str,
    pub ty: ColType,
    pub mutable: bool,
}

/// The schema version these tables come from.
pub(crate) const OVS_SCHEMA_VERSION: &str = "8.3.1";

/// Every table name of the OVS schema (for OVS-style table name matching).
pub(crate) const ALL_TABLES: &[&str] = &[
    "AutoAttach",
    "Bridge",
    "CT_Timeout_Policy",
    "CT_Zone",
    "Controller",
    "Datapath",
    "Flow_Sample_Collector_Set",
    "Flow_Table",
    "IPFIX",
    "Interface",
    "Manager",
    "Mirror",
    "NetFlow",
    "Open_vSwitch",
    "Port",
    "QoS",
    "Queue",
    "SSL",
    "sFlow",
];

/// Columns of the Open_vSwitch table.
pub(crate) const OPEN_VSWITCH: &[Column] = &[
    Column {
        name: "bridges",
        ty: ColType {
            key: BaseType {
                base: Base::Uuid,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 0,
            max: u32::MAX,
        },
        mutable: true,
    },
    Column {
        name: "cur_cfg",
        ty: ColType {
            key: BaseType {
                base: Base::Int,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 1,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "datapath_types",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 0,
            max: u32::MAX,
        },
        mutable: true,
    },
    Column {
        name: "datapaths",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: Some(BaseType {
                base: Base::Uuid,
                min_int: None,
                max_int: None,
                enum_: None,
            }),
            min: 0,
            max: u32::MAX,
        },
        mutable: true,
    },
    Column {
        name: "db_version",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "dpdk_initialized",
        ty: ColType {
            key: BaseType {
                base: Base::Bool,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 1,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "dpdk_version",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "external_ids",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: Some(BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            }),
            min: 0,
            max: u32::MAX,
        },
        mutable: true,
    },
    Column {
        name: "iface_types",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 0,
            max: u32::MAX,
        },
        mutable: true,
    },
    Column {
        name: "manager_options",
        ty: ColType {
            key: BaseType {
                base: Base::Uuid,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 0,
            max: u32::MAX,
        },
        mutable: true,
    },
    Column {
        name: "next_cfg",
        ty: ColType {
            key: BaseType {
                base: Base::Int,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 1,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "other_config",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: Some(BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            }),
            min: 0,
            max: u32::MAX,
        },
        mutable: true,
    },
    Column {
        name: "ovs_version",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "ssl",
        ty: ColType {
            key: BaseType {
                base: Base::Uuid,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "statistics",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: Some(BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            }),
            min: 0,
            max: u32::MAX,
        },
        mutable: true,
    },
    Column {
        name: "system_type",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "system_version",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
];

/// Columns of the Bridge table.
pub(crate) const BRIDGE: &[Column] = &[
    Column {
        name: "auto_attach",
        ty: ColType {
            key: BaseType {
                base: Base::Uuid,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "controller",
        ty: ColType {
            key: BaseType {
                base: Base::Uuid,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 0,
            max: u32::MAX,
        },
        mutable: true,
    },
    Column {
        name: "datapath_id",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "datapath_type",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 1,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "datapath_version",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 1,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "external_ids",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: Some(BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            }),
            min: 0,
            max: u32::MAX,
        },
        mutable: true,
    },
    Column {
        name: "fail_mode",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: Some(&["secure", "standalone"]),
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "flood_vlans",
        ty: ColType {
            key: BaseType {
                base: Base::Int,
                min_int: Some(0),
                max_int: Some(4095),
                enum_: None,
            },
            value: None,
            min: 0,
            max: 4096,
        },
        mutable: true,
    },
    Column {
        name: "flow_tables",
        ty: ColType {
            key: BaseType {
                base: Base::Int,
                min_int: Some(0),
                max_int: Some(254),
                enum_: None,
            },
            value: Some(BaseType {
                base: Base::Uuid,
                min_int: None,
                max_int: None,
                enum_: None,
            }),
            min: 0,
            max: u32::MAX,
        },
        mutable: true,
    },
    Column {
        name: "ipfix",
        ty: ColType {
            key: BaseType {
                base: Base::Uuid,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "mcast_snooping_enable",
        ty: ColType {
            key: BaseType {
                base: Base::Bool,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 1,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "mirrors",
        ty: ColType {
            key: BaseType {
                base: Base::Uuid,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 0,
            max: u32::MAX,
        },
        mutable: true,
    },
    Column {
        name: "name",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 1,
            max: 1,
        },
        mutable: false,
    },
    Column {
        name: "netflow",
        ty: ColType {
            key: BaseType {
                base: Base::Uuid,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "other_config",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: Some(BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            }),
            min: 0,
            max: u32::MAX,
        },
        mutable: true,
    },
    Column {
        name: "ports",
        ty: ColType {
            key: BaseType {
                base: Base::Uuid,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 0,
            max: u32::MAX,
        },
        mutable: true,
    },
    Column {
        name: "protocols",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: Some(&[
                    "OpenFlow10",
                    "OpenFlow11",
                    "OpenFlow12",
                    "OpenFlow13",
                    "OpenFlow14",
                    "OpenFlow15",
                ]),
            },
            value: None,
            min: 0,
            max: u32::MAX,
        },
        mutable: true,
    },
    Column {
        name: "rstp_enable",
        ty: ColType {
            key: BaseType {
                base: Base::Bool,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 1,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "rstp_status",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: Some(BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            }),
            min: 0,
            max: u32::MAX,
        },
        mutable: true,
    },
    Column {
        name: "sflow",
        ty: ColType {
            key: BaseType {
                base: Base::Uuid,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "status",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: Some(BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            }),
            min: 0,
            max: u32::MAX,
        },
        mutable: true,
    },
    Column {
        name: "stp_enable",
        ty: ColType {
            key: BaseType {
                base: Base::Bool,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 1,
            max: 1,
        },
        mutable: true,
    },
];

/// Columns of the Port table.
pub(crate) const PORT: &[Column] = &[
    Column {
        name: "bond_active_slave",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "bond_downdelay",
        ty: ColType {
            key: BaseType {
                base: Base::Int,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 1,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "bond_fake_iface",
        ty: ColType {
            key: BaseType {
                base: Base::Bool,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 1,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "bond_mode",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: Some(&["active-backup", "balance-slb", "balance-tcp"]),
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "bond_updelay",
        ty: ColType {
            key: BaseType {
                base: Base::Int,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 1,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "cvlans",
        ty: ColType {
            key: BaseType {
                base: Base::Int,
                min_int: Some(0),
                max_int: Some(4095),
                enum_: None,
            },
            value: None,
            min: 0,
            max: 4096,
        },
        mutable: true,
    },
    Column {
        name: "external_ids",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: Some(BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            }),
            min: 0,
            max: u32::MAX,
        },
        mutable: true,
    },
    Column {
        name: "fake_bridge",
        ty: ColType {
            key: BaseType {
                base: Base::Bool,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 1,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "interfaces",
        ty: ColType {
            key: BaseType {
                base: Base::Uuid,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 1,
            max: u32::MAX,
        },
        mutable: true,
    },
    Column {
        name: "lacp",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: Some(&["active", "off", "passive"]),
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "mac",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "name",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 1,
            max: 1,
        },
        mutable: false,
    },
    Column {
        name: "other_config",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: Some(BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            }),
            min: 0,
            max: u32::MAX,
        },
        mutable: true,
    },
    Column {
        name: "protected",
        ty: ColType {
            key: BaseType {
                base: Base::Bool,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 1,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "qos",
        ty: ColType {
            key: BaseType {
                base: Base::Uuid,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "rstp_statistics",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: Some(BaseType {
                base: Base::Int,
                min_int: None,
                max_int: None,
                enum_: None,
            }),
            min: 0,
            max: u32::MAX,
        },
        mutable: true,
    },
    Column {
        name: "rstp_status",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: Some(BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            }),
            min: 0,
            max: u32::MAX,
        },
        mutable: true,
    },
    Column {
        name: "statistics",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: Some(BaseType {
                base: Base::Int,
                min_int: None,
                max_int: None,
                enum_: None,
            }),
            min: 0,
            max: u32::MAX,
        },
        mutable: true,
    },
    Column {
        name: "status",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: Some(BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            }),
            min: 0,
            max: u32::MAX,
        },
        mutable: true,
    },
    Column {
        name: "tag",
        ty: ColType {
            key: BaseType {
                base: Base::Int,
                min_int: Some(0),
                max_int: Some(4095),
                enum_: None,
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "trunks",
        ty: ColType {
            key: BaseType {
                base: Base::Int,
                min_int: Some(0),
                max_int: Some(4095),
                enum_: None,
            },
            value: None,
            min: 0,
            max: 4096,
        },
        mutable: true,
    },
    Column {
        name: "vlan_mode",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: Some(&[
                    "access",
                    "dot1q-tunnel",
                    "native-tagged",
                    "native-untagged",
                    "trunk",
                ]),
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
];

/// Columns of the Interface table.
pub(crate) const INTERFACE: &[Column] = &[
    Column {
        name: "admin_state",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: Some(&["down", "up"]),
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "bfd",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: Some(BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            }),
            min: 0,
            max: u32::MAX,
        },
        mutable: true,
    },
    Column {
        name: "bfd_status",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: Some(BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            }),
            min: 0,
            max: u32::MAX,
        },
        mutable: true,
    },
    Column {
        name: "cfm_fault",
        ty: ColType {
            key: BaseType {
                base: Base::Bool,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "cfm_fault_status",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 0,
            max: u32::MAX,
        },
        mutable: true,
    },
    Column {
        name: "cfm_flap_count",
        ty: ColType {
            key: BaseType {
                base: Base::Int,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "cfm_health",
        ty: ColType {
            key: BaseType {
                base: Base::Int,
                min_int: Some(0),
                max_int: Some(100),
                enum_: None,
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "cfm_mpid",
        ty: ColType {
            key: BaseType {
                base: Base::Int,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "cfm_remote_mpids",
        ty: ColType {
            key: BaseType {
                base: Base::Int,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 0,
            max: u32::MAX,
        },
        mutable: true,
    },
    Column {
        name: "cfm_remote_opstate",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: Some(&["down", "up"]),
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "duplex",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: Some(&["full", "half"]),
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "error",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "external_ids",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: Some(BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            }),
            min: 0,
            max: u32::MAX,
        },
        mutable: true,
    },
    Column {
        name: "ifindex",
        ty: ColType {
            key: BaseType {
                base: Base::Int,
                min_int: Some(0),
                max_int: Some(4294967295),
                enum_: None,
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "ingress_policing_burst",
        ty: ColType {
            key: BaseType {
                base: Base::Int,
                min_int: Some(0),
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 1,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "ingress_policing_kpkts_burst",
        ty: ColType {
            key: BaseType {
                base: Base::Int,
                min_int: Some(0),
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 1,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "ingress_policing_kpkts_rate",
        ty: ColType {
            key: BaseType {
                base: Base::Int,
                min_int: Some(0),
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 1,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "ingress_policing_rate",
        ty: ColType {
            key: BaseType {
                base: Base::Int,
                min_int: Some(0),
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 1,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "lacp_current",
        ty: ColType {
            key: BaseType {
                base: Base::Bool,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "link_resets",
        ty: ColType {
            key: BaseType {
                base: Base::Int,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "link_speed",
        ty: ColType {
            key: BaseType {
                base: Base::Int,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "link_state",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: Some(&["down", "up"]),
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "lldp",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: Some(BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            }),
            min: 0,
            max: u32::MAX,
        },
        mutable: true,
    },
    Column {
        name: "mac",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "mac_in_use",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "mtu",
        ty: ColType {
            key: BaseType {
                base: Base::Int,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "mtu_request",
        ty: ColType {
            key: BaseType {
                base: Base::Int,
                min_int: Some(1),
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "name",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 1,
            max: 1,
        },
        mutable: false,
    },
    Column {
        name: "ofport",
        ty: ColType {
            key: BaseType {
                base: Base::Int,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "ofport_request",
        ty: ColType {
            key: BaseType {
                base: Base::Int,
                min_int: Some(1),
                max_int: Some(65279),
                enum_: None,
            },
            value: None,
            min: 0,
            max: 1,
        },
        mutable: true,
    },
    Column {
        name: "options",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: Some(BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            }),
            min: 0,
            max: u32::MAX,
        },
        mutable: true,
    },
    Column {
        name: "other_config",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: Some(BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            }),
            min: 0,
            max: u32::MAX,
        },
        mutable: true,
    },
    Column {
        name: "statistics",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: Some(BaseType {
                base: Base::Int,
                min_int: None,
                max_int: None,
                enum_: None,
            }),
            min: 0,
            max: u32::MAX,
        },
        mutable: true,
    },
    Column {
        name: "status",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: Some(BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            }),
            min: 0,
            max: u32::MAX,
        },
        mutable: true,
    },
    Column {
        name: "type",
        ty: ColType {
            key: BaseType {
                base: Base::Str,
                min_int: None,
                max_int: None,
                enum_: None,
            },
            value: None,
            min: 1,
            max: 1,
        },
        mutable: true,
    },
];
