//! Data files: IDX (the MNIST / Fashion-MNIST format, plain or gzip-compressed) and text.
//!
//! A file that is not what it claims gets a typed [`DataError`] naming the file and what is
//! wrong; nothing here panics on user data.

use std::io::Read;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why a data file was refused.
#[derive(Debug, Error)]
pub enum DataError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The gzip stream is corrupt or truncated.
    #[error("{path}: corrupt or truncated gzip data: {reason}")]
    Gzip {
        /// The file.
        path: PathBuf,
        /// The decoder's reason.
        reason: String,
    },
    /// Shorter than the IDX header.
    #[error("{path}: truncated IDX header: {len} bytes, the header needs {need}")]
    Header {
        /// The file.
        path: PathBuf,
        /// Bytes present.
        len: usize,
        /// Bytes the header needs.
        need: usize,
    },
    /// Wrong magic number.
    #[error("{path}: not an IDX file (first bytes {found:02x?}, expected 00 00 08 <ndims>)")]
    Magic {
        /// The file.
        path: PathBuf,
        /// The first four bytes.
        found: [u8; 4],
    },
    /// An element type other than unsigned bytes.
    #[error("{path}: IDX element type 0x{code:02x} is not supported (only unsigned bytes, 0x08)")]
    ElementType {
        /// The file.
        path: PathBuf,
        /// The type code.
        code: u8,
    },
    /// The data is shorter than the header declares.
    #[error("{path}: truncated IDX data: the header declares {dims:?} = {expected} bytes, the file has {found}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Declared dimensions.
        dims: Vec<u32>,
        /// Declared data bytes.
        expected: usize,
        /// Data bytes present.
        found: usize,
    },
    /// Bytes after the declared data.
    #[error("{path}: {extra} unexpected bytes after the data the header declares {dims:?}")]
    Trailing {
        /// The file.
        path: PathBuf,
        /// Declared dimensions.
        dims: Vec<u32>,
        /// Extra bytes.
        extra: usize,
    },
    /// The wrong number of dimensions for what the file should hold.
    #[error("{path}: expected {want} dimensions ({what}), found {found:?}")]
    Dims {
        /// The file.
        path: PathBuf,
        /// What the file should hold.
        what: &'static str,
        /// Dimensions expected.
        want: usize,
        /// Dimensions found.
        found: Vec<u32>,
    },
    /// Images and labels of different counts.
    #[error("{images}: {n_images} images but {labels}: {n_labels} labels")]
    Count {
        /// Images file.
        images: PathBuf,
        /// Image count.
        n_images: usize,
        /// Labels file.
        labels: PathBuf,
        /// Label count.
        n_labels: usize,
    },
    /// A label outside 0..classes.
    #[error("{path}: label {label} at index {index} is outside 0..{classes}")]
    Label {
        /// The file.
        path: PathBuf,
        /// The label.
        label: u8,
        /// Where.
        index: usize,
        /// Number of classes.
        classes: usize,
    },
    /// A data set or text too small for the requested use.
    #[error("{path}: {problem}")]
    Unusable {
        /// The file or folder.
        path: PathBuf,
        /// What is missing.
        problem: String,
    },
}

/// A parsed IDX array of unsigned bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idx {
    /// Dimensions, outermost first.
    pub dims: Vec<u32>,
    /// The elements, row-major.
    pub data: Vec<u8>,
}

/// Read a whole file, gunzipping it when it starts with the gzip magic.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DataError> {
    let raw = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_owned(),
        source,
    })?;
    if raw.len() >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| DataError::Gzip {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Parse IDX bytes (`path` only names the source in errors).
pub fn parse_idx(bytes: &[u8], path: &Path) -> Result<Idx, DataError> {
    let p = || path.to_owned();
    if bytes.len() < 4 {
        return Err(DataError::Header {
            path: p(),
            len: bytes.len(),
            need: 4,
        });
    }
    let magic = [bytes[0], bytes[1], bytes[2], bytes[3]];
    if magic[0] != 0 || magic[1] != 0 || magic[3] == 0 || magic[3] > 8 {
        return Err(DataError::Magic {
            path: p(),
            found: magic,
        });
    }
    if magic[2] != 0x08 {
        return Err(DataError::ElementType {
            path: p(),
            code: magic[2],
        });
    }
    let nd = magic[3] as usize;
    let need = 4 + 4 * nd;
    if bytes.len() < need {
        return Err(DataError::Header {
            path: p(),
            len: bytes.len(),
            need,
        });
    }
    let dims: Vec<u32> = (0..nd)
        .map(|i| {
            let o = 4 + 4 * i;
            u32::from_be_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]])
        })
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d as usize))
        .unwrap_or(usize::MAX);
    let found = bytes.len() - need;
    if found < expected {
        return Err(DataError::Truncated {
            path: p(),
            dims,
            expected,
            found,
        });
    }
    if found > expected {
        return Err(DataError::Trailing {
            path: p(),
            dims,
            extra: found - expected,
        });
    }
    Ok(Idx {
        dims,
        data: bytes[need..].to_vec(),
    })
}

/// Read and parse an IDX file (plain or `.gz`).
pub fn load_idx(path: &Path) -> Result<Idx, DataError> {
    parse_idx(&read_maybe_gz(path)?, path)
}

/// The bytes of an IDX file holding `dims` and `data` (for tests and tools).
pub fn encode_idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

/// Images with labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Images {
    /// Pixels per image (rows × cols).
    pub pixels: usize,
    /// All pixels, image after image.
    pub data: Vec<u8>,
    /// One label per image.
    pub labels: Vec<u8>,
}

impl Images {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The pixels of image i.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.data[i * self.pixels..(i + 1) * self.pixels]
    }
}

/// Load an images file and its labels file, checking they agree (labels < `classes`).
pub fn load_images(images: &Path, labels: &Path, classes: usize) -> Result<Images, DataError> {
    let im = load_idx(images)?;
    if im.dims.len() != 3 {
        return Err(DataError::Dims {
            path: images.to_owned(),
            what: "images × rows × columns",
            want: 3,
            found: im.dims,
        });
    }
    let lb = load_idx(labels)?;
    if lb.dims.len() != 1 {
        return Err(DataError::Dims {
            path: labels.to_owned(),
            what: "labels",
            want: 1,
            found: lb.dims,
        });
    }
    let (n_images, n_labels) = (im.dims[0] as usize, lb.dims[0] as usize);
    if n_images != n_labels {
        return Err(DataError::Count {
            images: images.to_owned(),
            n_images,
            labels: labels.to_owned(),
            n_labels,
        });
    }
    if let Some((index, &label)) = lb
        .data
        .iter()
        .enumerate()
        .find(|(_, &l)| l as usize >= classes)
    {
        return Err(DataError::Label {
            path: labels.to_owned(),
            label,
            index,
            classes,
        });
    }
    let pixels = im.dims[1] as usize * im.dims[2] as usize;
    if pixels == 0 {
        return Err(DataError::Unusable {
            path: images.to_owned(),
            problem: format!(
                "the images are {} × {} pixels: a sequence needs at least one pixel",
                im.dims[1], im.dims[2]
            ),
        });
    }
    Ok(Images {
        pixels,
        data: im.data,
        labels: lb.data,
    })
}

/// Find `<stem>` or `<stem>.gz` in `dir`.
pub fn find_in(dir: &Path, stems: &[&str]) -> Result<PathBuf, DataError> {
    for stem in stems {
        for name in [stem.to_string(), format!("{stem}.gz")] {
            let p = dir.join(&name);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err(DataError::Unusable {
        path: dir.to_owned(),
        problem: format!("no file named {} (or .gz) here", stems.join(" or ")),
    })
}

/// The MNIST-layout train and test splits of a folder (`train-images-idx3-ubyte[.gz]`,
/// `train-labels-idx1-ubyte[.gz]`, `t10k-images-idx3-ubyte[.gz]`, `t10k-labels-idx1-ubyte[.gz]`).
pub fn load_mnist_dir(dir: &Path) -> Result<(Images, Images), DataError> {
    let f = |s: &[&str]| find_in(dir, s);
    let train = load_images(
        &f(&["train-images-idx3-ubyte", "train-images.idx3-ubyte"])?,
        &f(&["train-labels-idx1-ubyte", "train-labels.idx1-ubyte"])?,
        10,
    )?;
    let test_path = f(&["t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"])?;
    let test = load_images(
        &test_path,
        &f(&["t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"])?,
        10,
    )?;
    if test.pixels != train.pixels {
        return Err(DataError::Unusable {
            path: test_path,
            problem: format!(
                "the test images have {} pixels but the training images {}: both splits must \
                 have one image size",
                test.pixels, train.pixels
            ),
        });
    }
    Ok((train, test))
}

/// Read a text file as bytes (any encoding: the model works on bytes).
pub fn load_text(path: &Path, min_len: usize) -> Result<Vec<u8>, DataError> {
    let bytes = read_maybe_gz(path)?;
    if bytes.len() < min_len {
        return Err(DataError::Unusable {
            path: path.to_owned(),
            problem: format!(
                "the text has {} bytes; at least {min_len} are needed",
                bytes.len()
            ),
        });
    }
    Ok(bytes)
}
