//! One vocabulary for every training setting that has a name: each enum's `ALL` table
//! (variant, name) is the only place its names are written; `Display`, `FromStr` (and so the
//! command line and the flow's TOML) and the error listing the choices all come from it.

/// The name of `value` in `table`.
pub fn name_in<T: PartialEq + Copy>(table: &[(T, &'static str)], value: T) -> &'static str {
    table
        .iter()
        .find(|(v, _)| *v == value)
        .map_or("?", |(_, n)| n)
}

/// The value named `name` in `table`, or an error naming `what` and every choice.
pub fn parse_in<T: Copy>(table: &[(T, &'static str)], name: &str, what: &str) -> Result<T, String> {
    table
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(v, _)| *v)
        .ok_or_else(|| {
            let all: Vec<&str> = table.iter().map(|(_, n)| *n).collect();
            format!("unknown {what} `{name}` (one of: {})", all.join(", "))
        })
}

/// `Display` and `FromStr` for an enum with an `ALL: [(Self, &str); N]` table.
macro_rules! named_enum {
    ($t:ty, $what:literal) => {
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str($crate::names::name_in(&<$t>::ALL, *self))
            }
        }

        impl std::str::FromStr for $t {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                $crate::names::parse_in(&<$t>::ALL, s, $what)
            }
        }
    };
}
pub(crate) use named_enum;

#[cfg(test)]
mod tests {
    use crate::bptt::Activation;
    use crate::model::Init;
    use crate::optim::OptimizerKind;
    use crate::tasks::TaskKind;
    use crate::train::Method;

    /// Every name parses back to its variant, and the serde spelling (checkpoints, TOML) is
    /// the same name: one vocabulary, not two that happen to agree.
    fn round_trips<T>(all: &[(T, &'static str)])
    where
        T: Copy + PartialEq + std::fmt::Debug + std::fmt::Display + std::str::FromStr,
        T: serde::Serialize + serde::de::DeserializeOwned,
        <T as std::str::FromStr>::Err: std::fmt::Debug,
    {
        for &(v, n) in all {
            assert_eq!(v.to_string(), n);
            assert_eq!(n.parse::<T>().unwrap(), v);
            assert_eq!(serde_json::to_string(&v).unwrap(), format!("\"{n}\""));
            assert_eq!(serde_json::from_str::<T>(&format!("\"{n}\"")).unwrap(), v);
        }
    }

    #[test]
    fn names_serde_and_parsing_agree() {
        round_trips(&Method::ALL);
        round_trips(&Activation::ALL);
        round_trips(&Init::ALL);
        round_trips(&OptimizerKind::ALL);
        round_trips(&TaskKind::ALL);
        let e = "tanh".parse::<Activation>().unwrap_err();
        assert!(e.contains("relu, modrelu"), "{e}");
    }
}
