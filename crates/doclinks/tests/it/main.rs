//! The one integration-test binary of doclinks. Each module says what belongs in it.

mod cache;
mod cache_props;
mod cli;
mod findings;
mod fixing;
mod flags;
mod global_ignore;
mod hostile;
mod locks;
mod modes;
mod platform_props;
mod platforms;
mod props;
mod restore;
mod results_adversarial;
mod since;
mod snapshots;
mod triage;
mod util;
