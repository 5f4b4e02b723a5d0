//! Reading configuration from the environment, once, into typed values with clear errors.

use std::str::FromStr;

/// A configuration variable that is present but unusable.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {name}={value:?} is invalid: {reason}")]
pub struct ConfigError {
    pub name: String,
    pub value: String,
    pub reason: String,
}

impl crate::Classify for ConfigError {
    fn kind(&self) -> crate::ErrorKind {
        crate::ErrorKind::InvalidConfig
    }
}

/// Source of configuration values: the process environment in production, a map in tests.
pub trait Env {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

impl<S: std::hash::BuildHasher> Env for std::collections::HashMap<String, String, S> {
    fn get(&self, name: &str) -> Option<String> {
        std::collections::HashMap::get(self, name).cloned()
    }
}

/// A string variable, or `default` when unset or blank.
pub fn string(env: &impl Env, name: &str, default: &str) -> String {
    env.get(name).unwrap_or_else(|| default.to_owned())
}

/// A variable that must be set (and not blank).
pub fn required(env: &impl Env, name: &str) -> Result<String, ConfigError> {
    env.get(name).ok_or_else(|| ConfigError {
        name: name.to_owned(),
        value: String::new(),
        reason: "must be set".to_owned(),
    })
}

/// A variable that may be unset (or blank).
pub fn optional(env: &impl Env, name: &str) -> Option<String> {
    env.get(name)
}

/// Refuses output prefixes that overlap the prefix whose objects trigger the function (`trigger`, by variable
/// name and value): writing there would make the function trigger itself.
pub fn outside_trigger(trigger: (&str, &str), outputs: &[(&str, &str)]) -> Result<(), ConfigError> {
    let (trigger_name, trigger) = trigger;
    match outputs
        .iter()
        .find(|(_, out)| out.starts_with(trigger) || trigger.starts_with(out))
    {
        Some((name, value)) => Err(ConfigError {
            name: (*name).to_owned(),
            value: (*value).to_owned(),
            reason: format!(
                "overlaps {trigger_name} {trigger:?}: the function would trigger itself"
            ),
        }),
        None => Ok(()),
    }
}

/// A parsed variable, or `default` when unset; an unparseable value is an error, never silently the default.
pub fn parse<T>(env: &impl Env, name: &str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match env.get(name) {
        None => Ok(default),
        Some(value) => value.trim().parse().map_err(|e: T::Err| ConfigError {
            name: name.to_owned(),
            reason: e.to_string(),
            value,
        }),
    }
}

/// A prefix variable normalised to end in exactly one `/` (an empty prefix stays empty).
pub fn prefix(env: &impl Env, name: &str, default: &str) -> String {
    let raw = string(env, name, default);
    let trimmed = raw.trim().trim_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("{trimmed}/")
    }
}

/// Checks that a ratio lies in `[0, 1]`.
pub fn ratio(env: &impl Env, name: &str, default: f64) -> Result<f64, ConfigError> {
    let value: f64 = parse(env, name, default)?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError {
            name: name.to_owned(),
            value: value.to_string(),
            reason: "must be between 0 and 1".to_owned(),
        })
    }
}

/// An environment from `(name, value)` pairs, for tests of a `from_env`.
pub fn env_of(pairs: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::env_of as env;
    use super::*;

    #[test]
    fn unset_values_fall_back_to_defaults() {
        let e = env(&[]);
        assert_eq!(parse(&e, "N", 7_usize).ok(), Some(7));
        assert_eq!(string(&e, "S", "x"), "x");
    }

    #[test]
    fn unparseable_values_are_errors_not_defaults() {
        let e = env(&[("N", "seven")]);
        let err = parse(&e, "N", 7_usize).err().map(|e| e.to_string());
        assert!(err.is_some_and(|m| m.contains("N=\"seven\"")));
    }

    #[test]
    fn ratios_outside_unit_interval_are_rejected() {
        assert!(ratio(&env(&[("R", "1.5")]), "R", 0.02).is_err());
        assert_eq!(ratio(&env(&[("R", "0.1")]), "R", 0.02).ok(), Some(0.1));
    }

    #[test]
    fn prefixes_end_in_one_slash() {
        assert_eq!(prefix(&env(&[("P", "/curated//")]), "P", "x/"), "curated/");
        assert_eq!(prefix(&env(&[]), "P", "raw"), "raw/");
        assert_eq!(prefix(&env(&[("P", "/")]), "P", "raw/"), "");
    }
}
