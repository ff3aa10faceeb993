//! Container names: Docker's validity rule and random `adjective_surname` names.

use rand::seq::SliceRandom;

/// Docker's rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, with an optional leading `/`.
pub fn normalize(name: &str) -> Result<String, String> {
    let n = name.strip_prefix('/').unwrap_or(name);
    let mut chars = n.chars();
    let valid = match chars.next() {
        Some(c) if c.is_ascii_alphanumeric() => {
            n.len() >= 2 && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        }
        _ => false,
    };
    if valid {
        Ok(n.to_owned())
    } else {
        Err(format!(
            "Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        ))
    }
}

const LEFT: &[&str] = &[
    "admiring", "brave", "calm", "clever", "dreamy", "eager", "focused", "gallant", "happy",
    "jolly", "keen", "lucid", "modest", "nifty", "quirky", "serene", "tender", "vibrant",
    "wizardly", "zealous",
];
const RIGHT: &[&str] = &[
    "albattani",
    "babbage",
    "curie",
    "darwin",
    "einstein",
    "fermi",
    "galileo",
    "hopper",
    "kepler",
    "lovelace",
    "meitner",
    "newton",
    "noether",
    "pasteur",
    "ritchie",
    "shannon",
    "tesla",
    "turing",
    "wozniak",
    "yonath",
];

/// A random name like dockerd's (`eager_turing`); `attempt` > 0 adds a digit
/// suffix, as dockerd does after a collision.
pub fn random(attempt: u32) -> String {
    let mut rng = rand::thread_rng();
    let l = LEFT.choose(&mut rng).copied().unwrap_or("calm");
    let r = RIGHT.choose(&mut rng).copied().unwrap_or("turing");
    if attempt == 0 {
        format!("{l}_{r}")
    } else {
        format!("{l}_{r}{attempt}")
    }
}

/// A new 64-hex container or exec ID.
pub fn new_id() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_docker_rule() {
        assert_eq!(normalize("/web").unwrap(), "web");
        assert_eq!(normalize("a.b-c_d").unwrap(), "a.b-c_d");
        assert!(normalize("a").is_err());
        assert!(normalize("-bad").is_err());
        assert!(normalize("bad name").is_err());
        assert!(normalize("").is_err());
    }

    #[test]
    fn random_names_are_valid() {
        for i in 0..5 {
            assert!(normalize(&random(i)).is_ok());
        }
        assert_eq!(new_id().len(), 64);
    }
}
