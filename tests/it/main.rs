//! Integration tests of every command: one test binary (as cargo and
//! uv do) that drives the real `gild` through `assert_cmd` in temporary workspaces made by
//! `harness`. Every fixture (keys, signatures, tar layers, recipes) is generated in code.

mod harness;
// Shared with build.rs, which uses the probes; the tests use the rule.
#[allow(dead_code)]
#[path = "../support/needs.rs"]
mod needs;

mod base_index;
mod build;
mod checks;
mod clock;
mod commands;
mod compare;
mod deb;
mod debfix;
mod decoded;
mod defer;
mod errors;
mod frames;
mod hardening;
mod install;
mod intake;
mod interop;
mod journal;
mod layering;
mod model;
mod oci;
mod pipe;
mod plan;
mod progress;
mod recipe;
mod reproducible;
mod rollout;
mod signing;
mod trust;
mod versions;
