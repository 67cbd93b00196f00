mod e2e;
mod real_adapters;
mod recordings;
mod traces;
