//! Unit tests of the ovs-vsctl engine.

use super::*;
