mod captions;
mod crash;
mod errors;
mod offload;
mod session;
mod stems;
mod webm;
