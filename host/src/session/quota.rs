//! How many studios clients may open: in total and per peer address. Opening a studio costs a
//! recorder, an STT call and an actor, so a new episode id is not free; joining a running
//! studio is.

use std::net::IpAddr;

use super::JoinError;

/// `MAX_STUDIOS` and `MAX_STUDIOS_PER_IP`: running studios in total and per creating address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StudioQuota {
    /// Running studios on this server.
    pub max_studios: usize,
    /// Running studios opened from one address (see `gateway::rate::address_key`).
    pub max_per_address: usize,
}

impl Default for StudioQuota {
    /// No limit: in-process callers (tests, embedding) that have not set one.
    fn default() -> Self {
        Self {
            max_studios: usize::MAX,
            max_per_address: usize::MAX,
        }
    }
}

impl StudioQuota {
    /// Whether `creator` may open one more studio, given the creators of the running studios
    /// (`None`: opened in process, counted in the total only).
    pub fn check(
        &self,
        creator: Option<IpAddr>,
        running: impl Iterator<Item = Option<IpAddr>>,
    ) -> Result<(), JoinError> {
        let (mut total, mut same) = (0usize, 0usize);
        for c in running {
            total += 1;
            if creator.is_some() && c == creator {
                same += 1;
            }
        }
        if total >= self.max_studios {
            return Err(JoinError::TooManyStudios {
                limit: self.max_studios,
            });
        }
        if creator.is_some() && same >= self.max_per_address {
            return Err(JoinError::TooManyStudiosFromAddress {
                limit: self.max_per_address,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_and_each_address_are_capped_separately() {
        let quota = StudioQuota {
            max_studios: 3,
            max_per_address: 2,
        };
        let a: IpAddr = [127, 0, 0, 2].into();
        let b: IpAddr = [127, 0, 0, 3].into();
        assert_eq!(quota.check(Some(a), [Some(a)].into_iter()), Ok(()));
        assert_eq!(
            quota.check(Some(a), [Some(a), Some(a)].into_iter()),
            Err(JoinError::TooManyStudiosFromAddress { limit: 2 })
        );
        assert_eq!(quota.check(Some(b), [Some(a), Some(a)].into_iter()), Ok(()));
        assert_eq!(
            quota.check(Some(b), [Some(a), Some(a), None].into_iter()),
            Err(JoinError::TooManyStudios { limit: 3 })
        );
        assert_eq!(quota.check(None, [Some(a), Some(a)].into_iter()), Ok(()));
    }
}
