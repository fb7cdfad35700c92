//! Domain types of the catalog, shared by the sync pipeline and the store.
//!
//! They carry no database or wire details: providers map their wire types into these,
//! the store maps these into entity rows. Absent facts are `None`, never a made-up 0.

use chrono::NaiveDateTime;

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
}

impl AddedVia {
    pub fn as_str(self) -> &'static str {
        match self {
            AddedVia::Cli => "cli",
            AddedVia::Related => "related",
            AddedVia::Import => "import",
            AddedVia::Request => "request",
        }
    }
}

/// An artist's profile as a provider describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtistProfile {
    /// Spotify artist id.
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
            DeezerMapping::Unmapped => "unmapped",
            DeezerMapping::Ambiguous => "ambiguous",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "name" => Some(DeezerMapping::Name),
            "isrc" => Some(DeezerMapping::Isrc),
            "unmapped" => Some(DeezerMapping::Unmapped),
            "ambiguous" => Some(DeezerMapping::Ambiguous),
            _ => None,
        }
    }

    pub fn is_mapped(self) -> bool {
        matches!(self, DeezerMapping::Name | DeezerMapping::Isrc)
    }
}

/// A Deezer artist met as a related artist, with what is known of its Spotify identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeezerArtistEntry {
    pub deezer_id: i64,
    pub name: String,
    pub fans: Option<i64>,
    pub albums: Option<i32>,
    pub picture_url: Option<String>,
    pub spotify_id: Option<String>,
    pub mapping: DeezerMapping,
    pub checked_at: NaiveDateTime,
    pub attempts: i32,
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
}

/// A profile fetched for an existing artist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileUpdate {
    pub profile: ArtistProfile,
    pub source: Source,
    /// Deezer fan count, when the artist is mapped and Deezer answered.
    pub deezer_fans: Option<i64>,
    /// Deezer's picture, used when the profile has no image.
    pub fallback_image_url: Option<String>,
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

/// Everything one artist's refresh writes, applied in one transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArtistRefresh {
    pub artist_id: String,
    pub profile: Option<ProfileUpdate>,
    pub tracks: Option<(Source, Vec<TopTrack>)>,
    pub related: Option<RelatedUpdate>,
    /// Related artists joining the catalog; written before the related rows that point at them.
    pub new_artists: Vec<NewArtist>,
    pub deezer_entries: Vec<DeezerArtistEntry>,
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
