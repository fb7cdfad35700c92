//! Domain types of the catalog, shared by the sync pipeline and the store.
//!
//! They carry no database or wire details: providers map their wire types into these,
//! the store maps these into entity rows. Absent facts are `None`, never a made-up 0.
//!
//! Identity: an artist's catalog id is its Spotify id once that is proven, and
//! `dz:<deezer id>` for an artist that entered from Deezer alone ([`deezer_born_id`]).
//! Spotify ids are 22 base62 characters and never hold a `:`, so the two never collide.

use chrono::NaiveDateTime;

/// The catalog id of an artist known only by its Deezer id.
pub fn deezer_born_id(deezer_id: i64) -> String {
    format!("{DEEZER_BORN_PREFIX}{deezer_id}")
}

/// Whether a catalog id is a Deezer-born artist's (`dz:...`), not yet linked to Spotify.
pub fn is_deezer_born(id: &str) -> bool {
    id.starts_with(DEEZER_BORN_PREFIX)
}

const DEEZER_BORN_PREFIX: &str = "dz:";

/// How much users want an artist: the order in which a run spends the Spotify budget and
/// does its work. Artists users asked for come first, then those named with `add`, then
/// the starter list, then everything else (imports, growth through related artists).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Demand {
    Asked,
    Named,
    Starter,
    Other,
}

impl Demand {
    /// The demand of an artist that entered `via`, or was asked for by users since.
    pub fn of(via: AddedVia, asked_by_users: bool) -> Demand {
        match via {
            _ if asked_by_users => Demand::Asked,
            AddedVia::Request => Demand::Asked,
            AddedVia::Cli => Demand::Named,
            AddedVia::Starter => Demand::Starter,
            AddedVia::Related | AddedVia::Import => Demand::Other,
        }
    }
}

/// How a Deezer-born artist's Spotify id stands: linked by an exact name nothing casts
/// doubt on, or by a shared recording; or why it is not linked (yet).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpotifyLink {
    Name,
    Isrc,
    /// Spotify has no artist of that exact name.
    Unmapped,
    /// Candidates, but none proven.
    Ambiguous,
    /// The Spotify artist it matches is another catalog artist with another Deezer id.
    Held,
}

impl SpotifyLink {
    pub fn as_str(self) -> &'static str {
        match self {
            SpotifyLink::Name => "name",
            SpotifyLink::Isrc => "isrc",
            SpotifyLink::Unmapped => "unmapped",
            SpotifyLink::Ambiguous => "ambiguous",
            SpotifyLink::Held => "held",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            SpotifyLink::Name,
            SpotifyLink::Isrc,
            SpotifyLink::Unmapped,
            SpotifyLink::Ambiguous,
            SpotifyLink::Held,
        ]
        .into_iter()
        .find(|link| link.as_str() == s)
    }

    /// The proof a Deezer match gives for a Spotify link.
    pub fn from_evidence(evidence: DeezerMapping) -> SpotifyLink {
        match evidence {
            DeezerMapping::Isrc => SpotifyLink::Isrc,
            _ => SpotifyLink::Name,
        }
    }
}

/// Where a row's data came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    Spotify,
    Deezer,
    /// The old bot's DynamoDB data.
    Import,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Spotify => "spotify",
            Source::Deezer => "deezer",
            Source::Import => "import",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "spotify" => Some(Source::Spotify),
            "deezer" => Some(Source::Deezer),
            "import" => Some(Source::Import),
            _ => None,
        }
    }
}

/// How an artist entered the catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddedVia {
    Cli,
    Related,
    Import,
    Request,
    /// The bundled starter list of a fresh catalog.
    Starter,
}

impl AddedVia {
    pub fn as_str(self) -> &'static str {
        match self {
            AddedVia::Cli => "cli",
            AddedVia::Related => "related",
            AddedVia::Import => "import",
            AddedVia::Request => "request",
            AddedVia::Starter => "starter",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            AddedVia::Cli,
            AddedVia::Related,
            AddedVia::Import,
            AddedVia::Request,
            AddedVia::Starter,
        ]
        .into_iter()
        .find(|via| via.as_str() == s)
    }
}

/// An artist's profile as a provider describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtistProfile {
    /// The catalog id: the Spotify artist id, or [`deezer_born_id`] for a profile that
    /// came from Deezer.
    pub id: String,
    pub name: String,
    pub followers: Option<i64>,
    pub popularity: Option<i32>,
    pub url: Option<String>,
    pub image_url: Option<String>,
    pub genres: Vec<String>,
}

/// An artist about to join the catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewArtist {
    pub profile: ArtistProfile,
    pub source: Source,
    pub deezer_id: Option<i64>,
    pub deezer_fans: Option<i64>,
    pub added_via: AddedVia,
}

/// One of an artist's top tracks; its rank is its position in the list it came in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopTrack {
    /// The track id at its source.
    pub id: String,
    pub name: String,
    pub album_name: Option<String>,
    pub image_url: Option<String>,
    pub popularity: Option<i32>,
    pub deezer_rank: Option<i64>,
    pub isrc: Option<String>,
    pub url: Option<String>,
    pub duration_ms: Option<i32>,
}

/// How an artist's Deezer identity stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeezerMapping {
    /// The only exact name match, with nothing doubtful about it.
    Name,
    /// Confirmed by a shared recording (ISRC) Spotify attributes to the same artist.
    Isrc,
    /// The artist entered the catalog from Deezer: its Deezer id is its identity.
    Origin,
    /// No Deezer artist carries the name.
    Unmapped,
    /// Several candidates, or a doubtful one, and nothing confirmed any of them.
    Ambiguous,
}

impl DeezerMapping {
    pub fn as_str(self) -> &'static str {
        match self {
            DeezerMapping::Name => "name",
            DeezerMapping::Isrc => "isrc",
            DeezerMapping::Origin => "origin",
            DeezerMapping::Unmapped => "unmapped",
            DeezerMapping::Ambiguous => "ambiguous",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "name" => Some(DeezerMapping::Name),
            "isrc" => Some(DeezerMapping::Isrc),
            "origin" => Some(DeezerMapping::Origin),
            "unmapped" => Some(DeezerMapping::Unmapped),
            "ambiguous" => Some(DeezerMapping::Ambiguous),
            _ => None,
        }
    }

    /// The Deezer evidence a proven Spotify link stands for.
    pub fn from_link(how: SpotifyLink) -> DeezerMapping {
        match how {
            SpotifyLink::Isrc => DeezerMapping::Isrc,
            _ => DeezerMapping::Name,
        }
    }

    pub fn is_mapped(self) -> bool {
        matches!(
            self,
            DeezerMapping::Name | DeezerMapping::Isrc | DeezerMapping::Origin
        )
    }
}

/// What the planner needs to know of each catalog artist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtistState {
    pub id: String,
    pub name: String,
    pub name_key: String,
    pub deezer_id: Option<i64>,
    pub deezer_mapping: Option<DeezerMapping>,
    pub deezer_checked_at: Option<NaiveDateTime>,
    pub deezer_fans: Option<i64>,
    pub image_url: Option<String>,
    pub profile_refreshed_at: Option<NaiveDateTime>,
    pub tracks_refreshed_at: Option<NaiveDateTime>,
    pub related_refreshed_at: Option<NaiveDateTime>,
    pub related_count: usize,
    /// For a Deezer-born artist: whether and when its Spotify id was sought.
    pub spotify_link: Option<SpotifyLink>,
    pub spotify_checked_at: Option<NaiveDateTime>,
    pub demand: Demand,
}

impl ArtistState {
    /// Entered from Deezer and not (yet) linked to Spotify: its id is `dz:...`.
    pub fn is_deezer_born(&self) -> bool {
        is_deezer_born(&self.id)
    }
}

/// A profile fetched for an existing artist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProfileUpdate {
    /// Spotify's profile of a Spotify-linked artist (`profile.id` is the artist's id).
    Spotify {
        profile: ArtistProfile,
        /// Deezer fan count, when the artist is on Deezer and Deezer answered.
        deezer_fans: Option<i64>,
        /// Deezer's picture, used when Spotify gives no image.
        fallback_image_url: Option<String>,
    },
    /// Deezer's facts. A Deezer-born artist gets its name, picture and fans from them; a
    /// Spotify-linked artist (refreshed while Spotify cannot be asked) only its fan
    /// count, and the picture when it has no image.
    Deezer {
        name: Option<String>,
        fans: Option<i64>,
        picture: Option<String>,
    },
}

/// The outcome of matching an artist on Deezer, to be saved with its refresh.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeezerMatchUpdate {
    pub mapping: DeezerMapping,
    /// The Deezer id matched; `None` for no (trustworthy) match, which also clears a
    /// fan count that belonged to a dropped match.
    pub deezer_id: Option<i64>,
    pub fans: Option<i64>,
}

/// An artist's new related artists, by catalog id, in rank order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelatedUpdate {
    pub source: Source,
    pub related_ids: Vec<String>,
    /// `false` when some related artists could not be resolved for a reason a later run
    /// gets past (budget, a block): the list is written if it loses nothing, and the
    /// artist stays due.
    pub complete: bool,
}

/// Everything one artist's refresh writes: all of it or none of it lands (the store
/// writes many artists' refreshes in one transaction).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArtistRefresh {
    pub artist_id: String,
    pub profile: Option<ProfileUpdate>,
    /// Matching on Deezer this run: its outcome is saved.
    pub deezer_match: Option<DeezerMatchUpdate>,
    pub tracks: Option<(Source, Vec<TopTrack>)>,
    pub related: Option<RelatedUpdate>,
    /// How many related rows are stored now, when the caller knows (an incomplete list
    /// is written only if it is at least as long); `None` makes the store count them.
    pub stored_related: Option<usize>,
    /// Related artists joining the catalog; written before the related rows that point at them.
    pub new_artists: Vec<NewArtist>,
}

impl ArtistRefresh {
    /// Whether there is anything to write.
    pub fn is_empty(&self) -> bool {
        self.profile.is_none()
            && self.deezer_match.is_none()
            && self.tracks.is_none()
            && self.related.is_none()
            && self.new_artists.is_empty()
    }
}

/// Rows one refresh wrote, per table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteCounts {
    pub profiles: u64,
    pub top_tracks: u64,
    pub related: u64,
    pub artists_added: u64,
}

impl WriteCounts {
    pub fn add(&mut self, other: WriteCounts) {
        self.profiles += other.profiles;
        self.top_tracks += other.top_tracks;
        self.related += other.related;
        self.artists_added += other.artists_added;
    }
}
