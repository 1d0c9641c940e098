//! iptlint: a static analyzer for iptables-save dumps.
