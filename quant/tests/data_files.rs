//! IDX parsing on generated files: round trips, truncation, corruption, gzip; data-set
//! consistency errors; text loading.

use proptest::prelude::*;
use qornn_quant::data::{self, DataError};
use qornn_quant::tasks::{Split, Task, TaskSpec};
use std::io::Write;
use std::path::Path;

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).expect("gzip");
    e.finish().expect("gzip")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn round_trip(dims in prop::collection::vec(1u32..6, 1..4), seed in any::<u8>(), zip in any::<bool>()) {
        let len: usize = dims.iter().map(|&d| d as usize).product();
        let data: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect();
        let bytes = data::encode_idx(&dims, &data);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.idx");
        std::fs::write(&path, if zip { gz(&bytes) } else { bytes }).unwrap();
        let idx = data::load_idx(&path).unwrap();
        prop_assert_eq!(idx.dims, dims);
        prop_assert_eq!(idx.data, data);
    }

    #[test]
    fn truncated_is_a_typed_error(dims in prop::collection::vec(1u32..6, 1..4), cut in any::<prop::sample::Index>()) {
        let len: usize = dims.iter().map(|&d| d as usize).product();
        let bytes = data::encode_idx(&dims, &vec![7u8; len]);
        let at = cut.index(bytes.len()); // strictly shorter than the file
        match data::parse_idx(&bytes[..at], Path::new("t")) {
            Err(DataError::Header { .. }) | Err(DataError::Truncated { .. }) => {}
            other => prop_assert!(false, "cut at {} of {}: {:?}", at, bytes.len(), other),
        }
    }

    #[test]
    fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = data::parse_idx(&bytes, Path::new("g"));
    }

    #[test]
    fn truncated_gzip_is_a_typed_error(cut in 1usize..40) {
        let bytes = gz(&data::encode_idx(&[3, 4, 4], &[1u8; 48]));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.gz");
        let at = bytes.len().saturating_sub(cut).max(2);
        std::fs::write(&path, &bytes[..at]).unwrap();
        let r = data::load_idx(&path);
        prop_assert!(matches!(r, Err(DataError::Gzip { .. }) | Err(DataError::Truncated { .. }) | Err(DataError::Header { .. })), "{:?}", r);
    }
}

#[test]
fn wrong_magic_type_and_trailing_bytes() {
    let p = Path::new("f");
    assert!(matches!(
        data::parse_idx(&[1, 0, 8, 1, 0, 0, 0, 0], p),
        Err(DataError::Magic { .. })
    ));
    assert!(matches!(
        data::parse_idx(&[0, 0, 0x0d, 1, 0, 0, 0, 0], p),
        Err(DataError::ElementType { code: 0x0d, .. })
    ));
    let mut b = data::encode_idx(&[2], &[1, 2]);
    b.push(9);
    assert!(matches!(
        data::parse_idx(&b, p),
        Err(DataError::Trailing { extra: 1, .. })
    ));
    let e = data::parse_idx(&data::encode_idx(&[4], &[1, 2])[..], p).unwrap_err();
    assert!(e.to_string().contains("truncated"), "{e}");
}

fn write_mnist(dir: &Path, n_train: usize, n_test: usize, bad_label: bool) {
    for (prefix, n) in [("train", n_train), ("t10k", n_test)] {
        let imgs: Vec<u8> = (0..n * 784).map(|i| (i % 251) as u8).collect();
        let mut labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        if bad_label {
            labels[0] = 12;
        }
        std::fs::write(
            dir.join(format!("{prefix}-images-idx3-ubyte.gz")),
            gz(&data::encode_idx(&[n as u32, 28, 28], &imgs)),
        )
        .unwrap();
        std::fs::write(
            dir.join(format!("{prefix}-labels-idx1-ubyte")),
            data::encode_idx(&[n as u32], &labels),
        )
        .unwrap();
    }
}

#[test]
fn image_task_from_generated_files() {
    let dir = tempfile::tempdir().unwrap();
    write_mnist(dir.path(), 20, 7, false);
    let spec = TaskSpec::Image {
        dir: dir.path().to_owned(),
        permuted: true,
        train_limit: 0,
        test_limit: 0,
    };
    let task = Task::load(&spec).unwrap();
    assert_eq!(task.steps(), 784);
    assert_eq!(task.len(Split::Test), Some(7));
    let b = task.batch(Split::Test, &[3]);
    // a permutation of the pixels, scaled to [0, 1]
    let mut got: Vec<u32> = b.x.iter().map(|&v| (v * 255.0).round() as u32).collect();
    let mut want: Vec<u32> = (3 * 784..4 * 784).map(|i| (i % 251) as u32).collect();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want);
}

#[test]
fn inconsistent_data_sets_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_mnist(dir.path(), 5, 5, true);
    let spec = TaskSpec::Image {
        dir: dir.path().to_owned(),
        permuted: false,
        train_limit: 0,
        test_limit: 0,
    };
    let e = Task::load(&spec).unwrap_err();
    assert!(matches!(e, DataError::Label { label: 12, .. }), "{e}");
    // labels count differs from images count
    std::fs::write(
        dir.path().join("train-labels-idx1-ubyte"),
        data::encode_idx(&[4], &[0, 1, 2, 3]),
    )
    .unwrap();
    let e = Task::load(&spec).unwrap_err();
    assert!(matches!(e, DataError::Count { .. }), "{e}");
    let empty = tempfile::tempdir().unwrap();
    let e = Task::load(&TaskSpec::Image {
        dir: empty.path().to_owned(),
        permuted: false,
        train_limit: 0,
        test_limit: 0,
    })
    .unwrap_err();
    assert!(e.to_string().contains("train-images"), "{e}");
}

#[test]
fn char_lm_task_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.txt");
    std::fs::write(&path, "hello world, ".repeat(100)).unwrap();
    let task = Task::load(&TaskSpec::CharLm {
        path: path.clone(),
        steps: 20,
    })
    .unwrap();
    let (m, d, _, _) = task.io();
    assert_eq!((m, d), (9, 9)); // distinct bytes of "hello world, "
    let b = task.batch(Split::Train, &[1, 2]);
    assert_eq!(b.x.len(), 2 * 20 * 9);
    std::fs::write(&path, "short").unwrap();
    assert!(Task::load(&TaskSpec::CharLm { path, steps: 20 }).is_err());
}
