//! `X.Y` Python versions, for `--python-version` and `python-version`.

/// The oldest and newest Python versions `--python-version` accepts.
pub const PYTHON_VERSIONS: ((u8, u8), (u8, u8)) = ((3, 6), (3, 15));

/// Parses `X.Y` within [`PYTHON_VERSIONS`].
pub fn parse_python_version(text: &str) -> Result<(u8, u8), String> {
    let ((lo_major, lo_minor), (hi_major, hi_minor)) = PYTHON_VERSIONS;
    let range = format!("{lo_major}.{lo_minor} to {hi_major}.{hi_minor}");
    let parsed = text.split_once('.').and_then(|(major, minor)| {
        let digits =
            |s: &str| !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit());
        if digits(major) && digits(minor) {
            Some((major.parse::<u8>().ok()?, minor.parse::<u8>().ok()?))
        } else {
            None
        }
    });
    match parsed {
        Some(version) if PYTHON_VERSIONS.0 <= version && version <= PYTHON_VERSIONS.1 => {
            Ok(version)
        }
        Some(_) => Err(format!("unsupported Python version (supported: {range})")),
        None => Err(format!(
            "expected a version like `3.13` (supported: {range})"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_versions() {
        assert_eq!(parse_python_version("3.13"), Ok((3, 13)));
        assert_eq!(parse_python_version("3.6"), Ok((3, 6)));
        for bad in [
            "", "3", "3.", ".13", "3.13.1", "2.7", "4.0", "3.99", "x.y", "3.-1", "+3.1", "3.1000",
        ] {
            assert!(parse_python_version(bad).is_err(), "{bad:?} accepted");
        }
    }
}
