//! The one integration-test binary of doclinks. Each module says what belongs in it.
