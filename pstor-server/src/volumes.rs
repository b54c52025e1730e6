//! The host's volumes as the management service shows them: which mount a
//! path lies on, and what kind of device that is (manual 3.5.1's "device
//! type": local disk, RAID or iSCSI block device, NAS), from the mount
//! table (`/proc/self/mountinfo`) and sysfs.

use serde::Serialize;
use std::path::{Path, PathBuf};

/// What a storage space's volume is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceType {
    /// A local disk (or anything not recognised as below).
    Local,
    /// A software RAID (md) or device-mapper volume.
    Raid,
    /// A SCSI disk reached over iSCSI.
    Iscsi,
    /// A network share (NFS, CIFS/SMB).
    Nas,
}

/// One line of the mount table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// Filesystem type (`ext4`, `nfs4`, `cifs`, ...).
    pub fs_type: String,
    /// What is mounted (`/dev/sda1`, `//host/share`, `host:/export`).
    pub source: String,
}

/// Parses `/proc/self/mountinfo` text (fields 5: mount point; after the
/// ` - ` separator: type and source; octal escapes such as `\040` undone).
pub fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let mount_point = unescape(left.split(' ').nth(4)?);
            let mut r = right.split(' ');
            let fs_type = r.next()?.to_string();
            let source = unescape(r.next().unwrap_or(""));
            Some(Mount { mount_point: PathBuf::from(mount_point), fs_type, source })
        })
        .collect()
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mounts of this process's view.
pub fn mounts() -> Vec<Mount> {
    std::fs::read_to_string("/proc/self/mountinfo").map(|t| parse_mountinfo(&t)).unwrap_or_default()
}

/// The mount `path` lies on: the longest mount point that is a prefix of
/// it (the last such line wins, as the kernel's stacking does).
pub fn mount_of<'a>(mounts: &'a [Mount], path: &Path) -> Option<&'a Mount> {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    mounts
        .iter()
        .enumerate()
        .filter(|(_, m)| path.starts_with(&m.mount_point))
        .max_by_key(|(i, m)| (m.mount_point.components().count(), *i))
        .map(|(_, m)| m)
}

/// The kind of device a mount is.
pub fn device_type(m: &Mount) -> DeviceType {
    const NETWORK: [&str; 7] = ["nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "glusterfs"];
    if NETWORK.contains(&m.fs_type.as_str()) || m.fs_type.starts_with("fuse.sshfs") {
        return DeviceType::Nas;
    }
    let Some(dev) = m.source.strip_prefix("/dev/") else { return DeviceType::Local };
    if dev.starts_with("md") || dev.starts_with("mapper/") || dev.starts_with("dm-") {
        return DeviceType::Raid;
    }
    // A partition's disk: /sys/class/block/sdb1 -> .../sdb/sdb1; an iSCSI
    // disk's sysfs path runs through its session (".../session3/target...").
    let link = std::fs::canonicalize(Path::new("/sys/class/block").join(dev)).unwrap_or_default();
    if link.components().any(|c| c.as_os_str().to_string_lossy().starts_with("session")) {
        return DeviceType::Iscsi;
    }
    DeviceType::Local
}

/// The device type of the volume `path` lies on.
pub fn device_type_of(mounts: &[Mount], path: &Path) -> DeviceType {
    mount_of(mounts, path).map_or(DeviceType::Local, device_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 22 0:40 / /mnt/nas rw - nfs4 server:/export rw,vers=4.2
31 22 0:41 / /mnt/win\\040share rw - cifs //host/cams rw
32 22 9:0 / /srv/raid rw - xfs /dev/md0 rw
33 22 7:0 / /mnt/loop rw - ext4 /dev/loop0 rw
";

    #[test]
    fn the_mount_table_gives_each_path_its_device_type() {
        let m = parse_mountinfo(SAMPLE);
        assert_eq!(m.len(), 5);
        assert_eq!(m[2].mount_point, PathBuf::from("/mnt/win share"), "octal escape undone");
        let t = |p: &str| mount_of(&m, Path::new(p)).map(device_type);
        assert_eq!(t("/mnt/nas/cams/space1"), Some(DeviceType::Nas));
        assert_eq!(t("/mnt/win share/x"), Some(DeviceType::Nas));
        assert_eq!(t("/srv/raid/space"), Some(DeviceType::Raid));
        assert_eq!(t("/mnt/loop/s"), Some(DeviceType::Local));
        assert_eq!(t("/home/x"), Some(DeviceType::Local));
        assert_eq!(mount_of(&m, Path::new("/mnt/nasty")).map(|m| m.mount_point.clone()), Some(PathBuf::from("/")));
    }

    #[test]
    fn this_hosts_root_is_mounted() {
        assert!(mount_of(&mounts(), Path::new("/")).is_some());
    }
}
