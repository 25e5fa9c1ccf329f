//! Gives the build an identity for the kernel cache on disk (`src/kernel_cache.rs`): a digest
//! of the sources, the lock file, the target, the profile and the features, exported as
//! `QJIT_BUILD_ID`. A kernel cached by a binary built from other code (whose version number
//! need not differ) never loads in this one.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;

fn main() {
    let mut hasher = DefaultHasher::new();
    // The directory of this run, not of the build that compiled this script: cargo reuses a
    // compiled build script for a package of the same name and version built from another
    // checkout into the same target directory, whose baked-in path would hash nothing here.
    let root = std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    );
    let root = root.as_path();
    let files = hash_tree(&root.join("src"), root, &mut hasher);
    assert!(files > 0, "no source files under {}", root.display());
    for file in ["Cargo.lock", "Cargo.toml", "build.rs"] {
        file.hash(&mut hasher);
        std::fs::read(root.join(file))
            .unwrap_or_default()
            .hash(&mut hasher);
    }
    let mut settings: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| {
            k.starts_with("CARGO_FEATURE_")
                || k.starts_with("CARGO_CFG_TARGET_")
                || ["TARGET", "PROFILE", "OPT_LEVEL", "RUSTC", "DEBUG"].contains(&k.as_str())
        })
        .collect();
    settings.sort();
    settings.hash(&mut hasher);
    println!("cargo:rustc-env=QJIT_BUILD_ID={:016x}", hasher.finish());
    // The `qjit` binary is linked at a fixed address (not position-independent): LLVM's tables
    // would otherwise need about 180,000 relocations written at every start, which cost a
    // small query 1.8 ms of its 10 (`qjit --version`: 4.6 vs 6.3 ms, medians of 21 interleaved
    // runs; packed relocations, `-z pack-relative-relocs`, saved 0.5 ms). The library and the
    // tests stay position-independent; what the binary gives up is address randomization of its
    // own code, which a Rust program's memory safety makes much less of a defence.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=Cargo.lock");
    println!("cargo:rerun-if-changed=Cargo.toml");
    println!("cargo:rerun-if-changed=build.rs");
}

/// Hashes the path (relative to `root`) and content of every file under `dir`, in name order;
/// returns the number of files.
fn hash_tree(dir: &Path, root: &Path, hasher: &mut DefaultHasher) -> usize {
    let Ok(listing) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut paths: Vec<_> = listing.flatten().map(|e| e.path()).collect();
    paths.sort();
    let mut files = 0;
    for path in paths {
        if path.is_dir() {
            files += hash_tree(&path, root, hasher);
        } else if let Ok(content) = std::fs::read(&path) {
            path.strip_prefix(root).unwrap_or(&path).hash(hasher);
            content.hash(hasher);
            files += 1;
        }
    }
    files
}
