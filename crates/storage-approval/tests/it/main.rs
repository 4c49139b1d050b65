//! The one integration-test binary of storage-approval. Each module says what
//! belongs in it; all of them run the real binary on real files in temp dirs,
//! except `props`, which drives the library.

mod audit;
mod crash;
mod hostile;
mod keep;
mod locks;
mod props;
mod safety;
mod util;
mod workflow;
