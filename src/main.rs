//! The `iptlint` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    iptlint::cli::main()
}
