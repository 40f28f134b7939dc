//! Replays committed fuzz inputs in the normal test suite: every file of
//! `fuzz/corpus/<target>/` (seeds) and `fuzz/regressions/<target>/` (inputs that once failed)
//! goes through the target's harness, the same code the fuzz target runs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// `fuzz/` of the repository, from a crate two levels below the root.
pub fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The input files of `fuzz/<kind>/<target>/`, sorted; dotfiles and `README.md` are not inputs.
pub fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = fuzz_dir().join(kind).join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or(".");
            path.is_file() && !name.starts_with('.') && name != "README.md"
        })
        .collect();
    files.sort();
    files
}

/// Runs `run` on every input of `fuzz/<kind>/<target>/`, naming the file that fails; returns
/// how many ran. A missing or empty folder fails: a replay of nothing would pass forever.
pub fn replay(kind: &str, target: &str, run: fn(&[u8])) -> usize {
    let files = inputs(kind, target);
    assert!(
        !files.is_empty(),
        "no inputs under fuzz/{kind}/{target}/ (missing or empty folder)"
    );
    for path in &files {
        let data = std::fs::read(path).expect("readable input file");
        if std::panic::catch_unwind(|| run(&data)).is_err() {
            panic!("fuzz input {} fails its harness", path.display());
        }
    }
    files.len()
}

/// Writes a seed input as `fuzz/corpus/<target>/<name>` (used by the ignored seed writers).
pub fn write_seed(target: &str, name: &str, data: &[u8]) {
    let dir = fuzz_dir().join("corpus").join(target);
    std::fs::create_dir_all(&dir).expect("corpus directory");
    std::fs::write(dir.join(name), data).expect("seed written");
}
