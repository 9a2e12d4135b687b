//! Generates the C door's header, `include/libnotp.h` at the top of the
//! repository, from this crate's sources with cbindgen.
//!
//! The header is committed and checked for drift, so it is rewritten only when
//! its content changes: a build that changes nothing leaves the tree clean.
//! A failure to generate is a warning, not an error: the Rust crate itself
//! does not need the header, and the drift check reports a stale one.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=src");
    // A hand edit of the header is undone by the next build (and then shows
    // as drift).
    println!("cargo:rerun-if-changed=../../include/libnotp.h");

    let root = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    if let Err(e) = generate_header(&root) {
        println!("cargo:warning=include/libnotp.h was not regenerated: {e}");
    }
}

fn generate_header(root: &Path) -> Result<(), String> {
    let mut config = cbindgen::Config::from_file(root.join("cbindgen.toml"))?;
    config.after_includes = Some(version_macros() + config.after_includes.as_deref().unwrap_or(""));
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        // Only the C ABI module: the handles' engine types are declared
        // opaque in cbindgen.toml, so the header depends on nothing else
        // (and no `cargo metadata` run is needed).
        .with_src(root.join("src/lib.rs"))
        .generate()
        .map_err(|e| e.to_string())?;
    let mut text = Vec::new();
    bindings.write(&mut text);
    write_if_changed(&root.join("../../include/libnotp.h"), &text).map_err(|e| e.to_string())
}

/// `NOTP_VERSION_MAJOR/MINOR/PATCH`, taken from Cargo.toml so they cannot
/// disagree with `notp_version()`.
fn version_macros() -> String {
    let part = |name: &str| env::var(name).unwrap_or_else(|_| "0".into());
    format!(
        "\n#define NOTP_VERSION_MAJOR {}\n#define NOTP_VERSION_MINOR {}\n#define NOTP_VERSION_PATCH {}\n",
        part("CARGO_PKG_VERSION_MAJOR"),
        part("CARGO_PKG_VERSION_MINOR"),
        part("CARGO_PKG_VERSION_PATCH"),
    )
}

/// Writes through a temporary file and a rename, so a build running at the
/// same time never reads a half-written header.
fn write_if_changed(path: &Path, content: &[u8]) -> std::io::Result<()> {
    if fs::read(path).is_ok_and(|old| old == content) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("h.tmp{}", std::process::id()));
    fs::write(&tmp, content)?;
    fs::rename(&tmp, path)
}
