//! Generates the C header from `src` (the C surface is `src/ffi` and `src/status.rs`) with cbindgen into `$OUT_DIR/avs.h`. The checked-in
//! `include/avs.h` must equal it (a test checks); `AVS_BLESS_HEADER=1 cargo build` refreshes it.

use std::env;
use std::path::PathBuf;

fn main() {
    // cbindgen reads every module (a `pub const` anywhere lands in the header unless excluded).
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=AVS_BLESS_HEADER");
    // A SONAME gives the shared library an ABI version (and lets Yocto package it as runtime).
    // While the major version is 0 every minor release may change the C ABI (0.2 and 0.3:
    // avs_config grew), so the SONAME carries both: libavs.so.0.3.
    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        let major = env::var("CARGO_PKG_VERSION_MAJOR").expect("CARGO_PKG_VERSION_MAJOR");
        let minor = env::var("CARGO_PKG_VERSION_MINOR").expect("CARGO_PKG_VERSION_MINOR");
        let abi = if major == "0" { format!("0.{minor}") } else { major };
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libavs.so.{abi}");
    }
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR")).join("avs.h");
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate include/avs.h");
    bindings.write_to_file(&out);
    if env::var_os("AVS_BLESS_HEADER").is_some() {
        bindings.write_to_file(crate_dir.join("include/avs.h"));
    }
}
