//! Where events and failures go: mail ([`mail`]), the bus ([`bus`]), the queue of work
//! that failed ([`parking`]) and its way back ([`redrive`]), and the dev server's
//! in-process stand-ins for all of them ([`local`]).

pub mod bus;
pub mod local;
pub mod mail;
pub mod parking;
pub mod redrive;
