//! `deployer grafana --push`: not yet.
