//! What reacts to events: the Lambda entry points ([`handlers`]), the referral reward and
//! the low-credit notice ([`reactions`]), the alert mails ([`notices`]) and the monthly
//! statements ([`report`]).

pub mod handlers;
pub mod notices;
pub mod reactions;
pub mod report;
