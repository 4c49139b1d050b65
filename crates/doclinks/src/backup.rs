//! Backups: the zip archive `fix` writes before it changes a file, and
//! `restore`, which puts its files back.

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use zip::write::SimpleFileOptions;

use crate::error::Error;
use crate::fix::write_atomic;

/// The name of the manifest inside a backup archive.
const MANIFEST: &str = "doclinks-backup.json";

#[derive(Serialize, Deserialize)]
struct Manifest {
    root: PathBuf,
    files: Vec<String>,
}

pub(crate) fn write_backup(
    root: &Path,
    dir: &Path,
    files: &[String],
    contents: &[(PathBuf, Vec<u8>, Vec<u8>)],
) -> Result<PathBuf, Error> {
    let not_writable =
        |e: std::io::Error| Error::backup(dir, format!("backup directory is not writable: {e}"));
    std::fs::create_dir_all(dir).map_err(not_writable)?;
    let mut temp = tempfile::Builder::new()
        .prefix(".doclinks-backup")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(not_writable)?;
    {
        let mut zip = zip::ZipWriter::new(temp.as_file_mut());
        let options =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        let zip_err =
            |e: zip::result::ZipError| Error::backup(dir, format!("cannot write archive: {e}"));
        let manifest = Manifest { root: root.to_path_buf(), files: files.to_vec() };
        zip.start_file(MANIFEST, options).map_err(zip_err)?;
        let json = serde_json::to_vec_pretty(&manifest).expect("the manifest serializes");
        zip.write_all(&json)
            .map_err(|e| Error::backup(dir, format!("cannot write archive: {e}")))?;
        for (file, (_, before, _)) in files.iter().zip(contents) {
            zip.start_file(file.as_str(), options).map_err(zip_err)?;
            zip.write_all(before)
                .map_err(|e| Error::backup(dir, format!("cannot write archive: {e}")))?;
        }
        zip.finish().map_err(zip_err)?;
    }
    temp.as_file().sync_all().map_err(not_writable)?;
    let stamp = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"))
        .expect("the timestamp format is valid");
    let mut target = dir.join(format!("doclinks-backup-{stamp}.zip"));
    let mut n = 1;
    while target.exists() {
        target = dir.join(format!("doclinks-backup-{stamp}-{n}.zip"));
        n += 1;
    }
    temp.persist_noclobber(&target).map_err(|e| not_writable(e.error))?;
    Ok(target)
}

/// Puts every file of a backup archive back, byte for byte; returns their paths.
pub fn restore(backup: &Path) -> Result<Vec<PathBuf>, Error> {
    let file =
        std::fs::File::open(backup).map_err(|e| Error::io("cannot open backup", backup, e))?;
    let bad = |message: String| Error::backup(backup, message);
    let mut zip = zip::ZipArchive::new(file).map_err(|e| bad(format!("not a zip archive: {e}")))?;
    let manifest: Manifest = {
        let mut entry = zip
            .by_name(MANIFEST)
            .map_err(|_| bad(format!("not a doclinks backup (no {MANIFEST})")))?;
        let mut text = String::new();
        entry.read_to_string(&mut text).map_err(|e| bad(format!("cannot read {MANIFEST}: {e}")))?;
        serde_json::from_str(&text).map_err(|e| bad(format!("malformed {MANIFEST}: {e}")))?
    };
    // Read everything before writing anything, so a damaged archive restores nothing.
    let mut files = Vec::new();
    for name in &manifest.files {
        let safe = Path::new(name).components().all(|c| matches!(c, Component::Normal(_)));
        if !safe {
            return Err(bad(format!("entry `{name}` is not a path under the root")));
        }
        let mut entry = zip.by_name(name).map_err(|_| bad(format!("entry `{name}` is missing")))?;
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| bad(format!("cannot read entry `{name}`: {e}")))?;
        files.push((manifest.root.join(name), bytes));
    }
    let mut restored = Vec::new();
    for (path, bytes) in files {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io("cannot create", parent, e))?;
        }
        write_atomic(&path, &bytes)?;
        restored.push(path);
    }
    Ok(restored)
}
