//! Topology helper for netns integration tests (being written).
