"""old_users: canonical people, written through the dirt patterns, with the answer key of each row.

The canonical batch holds the true values; `render_users` writes each through one pattern per column (see
seeder/catalogue.py) and says what docs/cleaning-rules.md must make of it. Rows are columns of Python lists
and numpy arrays, so one call renders a whole chunk and a test can render one hand-written person.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from seeder import catalogue, grammar
from seeder.catalogue import Profile
from seeder.pools import (
    COUNTRY_SPELLINGS,
    INTL_PHONES,
    LEGACY_COUNTRY,
    LEGACY_COUNTRY_CODE,
    MILITARY_CITIES,
    MILITARY_STATES,
    QUOTE_FIRST_NAMES,
    QUOTE_LAST_NAMES,
    SQL_LIKE_LAST_NAMES,
    UNKNOWN_COUNTRIES,
    US_STATES,
    Pools,
    ascii_letters,
)
from seeder.text import DAY, NULL, array_literal, impossible_dates, tidy_name, timestamp_texts, write_dates

TABLE: catalogue.LegacyTable = "old_users"
FORM_COLUMNS = catalogue.columns(TABLE)
# Dated from here to END; orders follow their user's registration, so users stop a month before.
START = int(np.datetime64("2015-01-01T00:00:00", "s").astype(np.int64))
END = int(np.datetime64("2024-06-30T00:00:00", "s").astype(np.int64))
# People with a phone abroad, per profile: the legacy app's users were all in the US.
ABROAD = {"legacy": 0.0, "dirty": 0.05, "wild": 0.05}

VALID_EMAIL_FORMS = ("email_clean", "email_mixed_case", "email_spaces")
INVALID_EMAIL_FORMS = ("email_no_at", "email_two_at", "email_trailing_dot", "email_inner_space")
NOT_NORMALIZED_PHONES = ("phone_extension", "phone_cut_20", "phone_short")
# The forms that drop or misplace a part only make sense for the standard `street, city, ST 12345` layout.
MILITARY_FALLBACK = ("address_no_country", "address_no_street", "address_no_state_zip")


@dataclass(frozen=True)
class Phone:
    country_code: str
    # The national number in the groups people write it in: ("555", "201", "1234"), ("20", "7946", "0958").
    groups: tuple[str, ...]

    @property
    def e164(self) -> str:
        return "+" + self.country_code + "".join(self.groups)


@dataclass(frozen=True)
class Address:
    kind: str  # an address_kind pattern id
    street: str
    city: str
    state: str
    postal_code: str


@dataclass(frozen=True)
class CanonicalUser:
    id: int
    username: str
    first_name: str
    last_name: str
    email: str
    registered_at: int  # seconds, see seeder/text.py
    phone: Phone
    address: Address
    text_form: str = "text_plain"


@dataclass(frozen=True)
class RenderedUsers:
    legacy_rows: list[tuple[object, ...]]
    answer_rows: list[tuple[object, ...]]
    # What orders need to name these users and to know what the rules made of them.
    usernames: list[str]
    raw_emails: list[str | None]
    email_valid: np.ndarray
    survivor_ids: np.ndarray
    registered_day: np.ndarray  # expected registration day (days since 1970), NULL where unknown
    forms: dict[str, list[str]] = field(default_factory=dict)


ANSWER_COLUMNS = (
    "legacy_id",
    "outcome",
    "reason_code",
    "merged_into_legacy_id",
    "username",
    "email",
    "full_name",
    "phone",
    "registered_at",
    "street",
    "city",
    "state",
    "postal_code",
    "country",
    "country_code",
    "address_raw",
    "warnings",
    *FORM_COLUMNS,
    "grammar",
)


def grammar_text(**labels: str | None) -> str | None:
    """The wild grammar's choices of a row, `column=choice/choice;…`; NULL for a row written by fixed patterns."""
    written = [f"{column}={label}" for column, label in labels.items() if label]
    return ";".join(written) or None


def forms_of(column: str, ids: Sequence[str]) -> np.ndarray:
    return catalogue.encode(TABLE, column, ids)


def _ids(column: str, codes: np.ndarray) -> list[str]:
    return catalogue.decode(TABLE, column, codes)


# ---- one column at a time ------------------------------------------------------------------------------------


def _emails(users: Sequence[CanonicalUser], forms: list[str], picks: list[int]) -> tuple[list[str | None], ...]:
    raw: list[str | None] = []
    expected: list[str | None] = []
    for user, form, pick in zip(users, forms, picks, strict=True):
        email = user.email
        local, domain = email.split("@")
        text: str | None
        match form:
            case "email_clean":
                text = email
            case "email_mixed_case":
                text = email.title()
            case "email_spaces":
                text = ("  " + email, email + " ", " " + email + "  ")[pick % 3]
            case "email_no_at":
                text = local + domain
            case "email_two_at":
                text = local + "@@" + domain
            case "email_trailing_dot":
                text = email + "."
            case "email_inner_space":
                text = local.replace(".", " ", 1) + "@" + domain if "." in local else local + " @" + domain
            case _:
                text = None
        raw.append(text)
        expected.append(email if form in VALID_EMAIL_FORMS else None)
    return raw, expected


REGISTRATION_DATE_FORMS = {
    "reg_iso_minute": "iso_minute",
    "reg_iso_seconds": "iso_seconds",
    "reg_iso_t": "iso_t",
    "reg_iso_date": "iso_date",
    "reg_dmy": "dmy",
    "reg_us_ampm": "us_ampm",
    "reg_epoch": "epoch",
}


WILD_DATE_WRITERS = {
    "wild": grammar.write_dates,
    "wild_ambiguous_slash": grammar.write_ambiguous_slash,
    "wild_two_digit_year": grammar.write_two_digit_years,
    "wild_impossible": grammar.write_impossible_dates,
}
UNREADABLE_REGISTRATIONS = ("reg_impossible", "reg_wild_two_digit_year", "reg_wild_impossible")


def _registrations(
    secs: np.ndarray, forms: np.ndarray, picks: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Legacy texts (object array) and expected timestamps (NULL where the rules give none); the wild grammar's
    choices go into labels."""
    texts = np.empty(len(secs), dtype=object)
    expected = np.full(len(secs), NULL, dtype=np.int64)
    for code, pattern in enumerate(catalogue.column_patterns(TABLE, "registration_form")):
        idx = np.flatnonzero(forms == code)
        if not idx.size:
            continue
        wild = WILD_DATE_WRITERS.get(pattern.id.removeprefix("reg_"))
        if wild is not None:
            written = wild(secs[idx], picks[idx], "registration")
            texts[idx], expected[idx], labels[idx] = written.texts, written.expected, written.labels
        elif pattern.id in REGISTRATION_DATE_FORMS:
            dates, read = write_dates(secs[idx], REGISTRATION_DATE_FORMS[pattern.id])
            texts[idx], expected[idx] = dates, read
        elif pattern.id == "reg_impossible":
            texts[idx] = impossible_dates(secs[idx], picks[idx])
        else:
            texts[idx] = "N/A" if pattern.id == "reg_na" else ""
    return texts, expected


def _names(users: Sequence[CanonicalUser], forms: list[str], picks: list[int]) -> tuple[list[str], list[str]]:
    raw, expected = [], []
    for user, form, pick in zip(users, forms, picks, strict=True):
        first, last = user.first_name, user.last_name
        full = f"{first} {last}"
        match form:
            case "name_extra_spaces":
                text = "  " + "   ".join(full.split(" ")) + " "
            case "name_last_first":
                text = f"{last},{(' ', '', '  ')[pick % 3]}{first}"
            case "name_all_caps":
                text = full.upper()
            case "name_last_first_caps":
                text = f"{last.upper()},  {first.upper()}"
            case _:
                text = full
        raw.append(text)
        # All capitals cannot be undone exactly (MCDONALD): the expected value is the rule's own output (N1).
        expected.append(tidy_name(text) if form in ("name_all_caps", "name_last_first_caps") else full)
    return raw, expected


def _phones(users: Sequence[CanonicalUser], forms: list[str], picks: list[int]) -> tuple[list[str | None], ...]:
    raw: list[str | None] = []
    expected: list[str | None] = []
    for user, form, pick in zip(users, forms, picks, strict=True):
        phone = user.phone
        text: str | None
        if form in ("phone_intl_plus", "phone_intl_00"):
            prefix = "+" if form == "phone_intl_plus" else "00"
            text = f"{prefix}{phone.country_code} {' '.join(phone.groups)}"
        elif form == "phone_null":
            text = None
        else:
            area, exchange, line = phone.groups
            ext = str(pick % 90_000 + 10_000)
            match form:
                case "phone_parens":
                    text = f"({area}){exchange}-{line}" if pick % 2 else f"({area}) {exchange}-{line}"
                case "phone_dots":
                    text = f"{area}.{exchange}.{line}"
                case "phone_digits":
                    text = f"{area}{exchange}{line}"
                case "phone_plus1":
                    text = f"+1-{area}-{exchange}-{line}"
                case "phone_leading_1":
                    text = f"1-{area}-{exchange}-{line}"
                case "phone_leading_00":
                    text = f"001-{area}-{exchange}-{line}"
                case "phone_extension":
                    text = (
                        f"({area}) {exchange}-{line} x{ext[:3]}",
                        f"{area}-{exchange}-{line} ext. {ext[:2]}",
                        f"{area}.{exchange}.{line}x{ext[:4]}",
                    )[pick % 3]
                case "phone_cut_20":
                    # The legacy column is varchar(20): the app cut what did not fit, extension first.
                    text = (f"+1-{area}-{exchange}-{line} x{ext}", f"001-{area}-{exchange}-{line}x{ext[:4]}")[pick % 2][
                        :20
                    ]
                case "phone_short":
                    text = f"{exchange}-{line}"
                case _:
                    text = f"{area}-{exchange}-{line}"
        raw.append(text)
        if text is None:
            expected.append(None)
        elif form in NOT_NORMALIZED_PHONES:
            expected.append(text.strip(" "))
        else:
            expected.append(phone.e164)
    return raw, expected


AddressParts = tuple[str | None, str | None, str | None, str | None, str | None, str | None, str | None]
# A country as written in the address, as A1 keeps it (squished), and its ISO 3166-1 alpha-2 code (D).
Country = tuple[str, str, str | None]


def _address(address: Address, form: str, pick: int, wild: Country | None = None) -> tuple[str | None, AddressParts]:
    """The legacy text and the expected (street, city, state, postal code, country, country_code, address_raw).

    The country is the last part as written, squished (rule D), and its code what country_names maps it to: the
    legacy app's `USA` and the US spellings of the dirty profile are all `US`; an unknown one has none.
    """
    street, city, state, postal = address.street, address.city, address.state, address.postal_code
    # A military post office is written with its state and zip in one part, `APO AE 12345`, as Faker and A1
    # have it; everyone else's city stands apart from `ST 12345`.
    military = address.kind == "address_military"
    place = [f"{city} {state} {postal}"] if military else [city, f"{state} {postal}"]
    code: str | None
    written, country, code = LEGACY_COUNTRY, LEGACY_COUNTRY, LEGACY_COUNTRY_CODE
    match form:
        case "address_null":
            return None, (None, None, None, None, None, None, None)
        case "address_country_variant":
            written = country = COUNTRY_SPELLINGS[pick % len(COUNTRY_SPELLINGS)]
        case "address_country_unknown":
            written = country = UNKNOWN_COUNTRIES[pick % len(UNKNOWN_COUNTRIES)]
            code = None
        case "address_country_wild" | "address_country_wild_unknown":
            assert wild is not None, "the wild country forms need their country written"
            written, country, code = wild
        case "address_no_country":
            text = ", ".join((street, *place))
            return text, (street, city, state, postal, None, None, text)
        case "address_stray_spaces":
            spaced = [street.replace(" ", "  "), *(part.replace(" ", "  ") for part in place)]
            text = f"  {spaced[0]} ,{',  '.join(spaced[1:])} , {LEGACY_COUNTRY} "
            return text, (street, city, state, postal, country, code, text)
        case "address_no_street":
            text = ", ".join((*place, LEGACY_COUNTRY))
            return text, (None, city, state, postal, country, code, text)
        case "address_no_state_zip":
            # Nothing where `ST 12345` must be: the rules keep the text and split nothing (A1).
            text = ", ".join((street, city, LEGACY_COUNTRY))
            return text, (None, None, None, None, None, None, text)
    text = ", ".join((street, *place, written))
    # address_raw is "the legacy text the parts came from": kept exactly as written, stray spaces and all.
    return text, (street, city, state, postal, country, code, text)


def effective_forms(
    users: Sequence[CanonicalUser], forms: dict[str, np.ndarray], picks: np.ndarray
) -> dict[str, np.ndarray]:
    """The forms as written: one that cannot apply to a value falls back to its column's default."""
    out = {column: codes.copy() for column, codes in forms.items()}
    address = catalogue.codes(TABLE, "address_form")
    phone = catalogue.codes(TABLE, "phone_form")
    intl = {phone["phone_intl_plus"], phone["phone_intl_00"], phone["phone_null"]}
    for i, user in enumerate(users):
        if user.address.kind == "address_military" and int(out["address_form"][i]) in {
            address[f] for f in MILITARY_FALLBACK
        }:
            out["address_form"][i] = address["address_clean"]
        abroad = user.phone.country_code != "1"
        code = int(out["phone_form"][i])
        if abroad and code not in intl:
            out["phone_form"][i] = phone["phone_intl_plus"] if picks[i] % 2 else phone["phone_intl_00"]
        elif not abroad and code in intl - {phone["phone_null"]}:
            out["phone_form"][i] = phone["phone_dashes"]
    registration = catalogue.codes(TABLE, "registration_form")
    secs = np.array([user.registered_at for user in users], dtype=np.int64)
    misread = (out["registration_form"] == registration["reg_wild_ambiguous_slash"]) & ~grammar.ambiguous_slash_fits(
        secs
    )
    out["registration_form"][misread] = registration["reg_wild"]
    out["address_kind"] = forms_of("address_kind", [user.address.kind for user in users])
    out["text_form"] = forms_of("text_form", [user.text_form for user in users])
    return out


def render_users(
    users: Sequence[CanonicalUser],
    forms: dict[str, np.ndarray],
    picks: np.ndarray,
    merged_into: np.ndarray | None = None,
) -> RenderedUsers:
    """Legacy rows and answer-key rows for a batch of users.

    forms: per form column, the pattern code of each user (catalogue order); picks: a non-negative integer per
    user that chooses among a pattern's spellings; merged_into: for a second registration of a person, the legacy
    id of the first (else -1): its email is then the first one's in capitals, which the legacy unique
    constraint lets through and rule U1 merges.
    """
    n = len(users)
    merged = np.full(n, -1, dtype=np.int64) if merged_into is None else np.asarray(merged_into, dtype=np.int64)
    forms = effective_forms(users, forms, picks)
    if (merged >= 0).any():
        forms["row_form"] = np.where(merged >= 0, catalogue.code("user_duplicate_registration"), forms["row_form"])
        forms["email_form"] = np.where(merged >= 0, catalogue.code("email_mixed_case"), forms["email_form"])
    named = {column: _ids(column, codes) for column, codes in forms.items()}
    pick_list = picks.tolist()

    raw_email, email = _emails(users, named["email_form"], pick_list)
    for i in np.flatnonzero(merged >= 0).tolist():
        # Upper case never equals the first registration's text (its mixed case is title case).
        raw_email[i] = users[i].email.upper() + (" " if pick_list[i] % 2 else "")
    labels = np.full(n, None, dtype=object)
    registered_text, registered = _registrations(
        np.array([u.registered_at for u in users], dtype=np.int64), forms["registration_form"], picks, labels
    )
    raw_name, name = _names(users, named["name_form"], pick_list)
    raw_phone, phone = _phones(users, named["phone_form"], pick_list)
    address_codes = catalogue.codes(TABLE, "address_form")
    wild_address = np.isin(
        forms["address_form"], [address_codes["address_country_wild"], address_codes["address_country_wild_unknown"]]
    )
    unknown_country = forms["address_form"][wild_address] == address_codes["address_country_wild_unknown"]
    countries = grammar.write_countries(picks[wild_address], unknown=unknown_country)
    wild_country: list[Country | None] = [None] * n
    country_labels: list[str | None] = [None] * n
    for k, i in enumerate(np.flatnonzero(wild_address).tolist()):
        wild_country[i] = (countries.texts[k], countries.expected[k], countries.codes[k])
        country_labels[i] = countries.labels[k]
    addresses = [
        _address(u.address, form, pick, country)
        for u, form, pick, country in zip(users, named["address_form"], pick_list, wild_country, strict=True)
    ]
    registered_texts = timestamp_texts(registered)

    legacy_rows: list[tuple[object, ...]] = []
    answer_rows: list[tuple[object, ...]] = []
    for i, user in enumerate(users):
        address_text, parts = addresses[i]
        legacy_rows.append(
            (user.id, user.username, raw_email[i], raw_name[i], registered_text[i], address_text, raw_phone[i])
        )
        row_forms = [named[column][i] for column in FORM_COLUMNS]
        row_grammar = grammar_text(registration_form=labels[i], address_form=country_labels[i])
        if merged[i] >= 0:
            answer_rows.append(
                (user.id, "merged", "duplicate_email", int(merged[i]), *([None] * 12), "{}", *row_forms, row_grammar)
            )
            continue
        warnings = []
        if named["email_form"][i] in INVALID_EMAIL_FORMS:
            warnings.append("email_invalid")
        if named["registration_form"][i] in UNREADABLE_REGISTRATIONS:
            warnings.append("registration_date_invalid")
        if named["phone_form"][i] in NOT_NORMALIZED_PHONES:
            warnings.append("phone_not_normalized")
        if named["address_form"][i] == "address_no_state_zip":
            warnings.append("address_not_split")
        if named["address_form"][i] in ("address_country_unknown", "address_country_wild_unknown"):
            warnings.append("country_unknown")
        answer_rows.append(
            (
                user.id,
                "migrated",
                None,
                None,
                user.username,
                email[i],
                name[i],
                phone[i],
                registered_texts[i],
                *parts,
                array_literal(warnings),
                *row_forms,
                row_grammar,
            )
        )

    ids = np.array([u.id for u in users], dtype=np.int64)
    day = np.where(registered == NULL, NULL, np.floor_divide(registered, DAY))
    return RenderedUsers(
        legacy_rows=legacy_rows,
        answer_rows=answer_rows,
        usernames=[u.username for u in users],
        raw_emails=raw_email,
        email_valid=np.array([e is not None for e in email], dtype=bool),
        survivor_ids=np.where(merged >= 0, merged, ids),
        registered_day=day,
        forms=named,
    )


# ---- the canonical population --------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserPlan:
    """Every user of a run as pool indices and numbers: small enough to hold whole, rendered in chunks."""

    profile: Profile
    count: int
    forms: dict[str, np.ndarray]
    merged_into: np.ndarray  # legacy id of the first registration, or -1
    first: np.ndarray  # indices into the name pools of the user's text form
    last: np.ndarray
    username: np.ndarray
    domain: np.ndarray
    registered_at: np.ndarray
    abroad: np.ndarray
    phone_digits: np.ndarray
    address_kind: np.ndarray
    street: np.ndarray
    city: np.ndarray
    state: np.ndarray
    postal: np.ndarray
    plus4: np.ndarray
    picks: np.ndarray


def plan_users(rng: np.random.Generator, count: int, profile: Profile) -> UserPlan:
    forms = catalogue.draw(rng, TABLE, profile, count)
    registered = rng.integers(START, END - 30 * DAY, size=count, dtype=np.int64)
    big = np.iinfo(np.int32).max
    plan = UserPlan(
        profile=profile,
        count=count,
        forms=forms,
        merged_into=np.full(count, -1, dtype=np.int64),
        first=rng.integers(0, big, size=count),
        last=rng.integers(0, big, size=count),
        username=rng.integers(0, big, size=count),
        domain=rng.integers(0, big, size=count),
        registered_at=registered,
        abroad=rng.random(count) < ABROAD[profile],
        phone_digits=rng.integers(0, 10**12, size=count, dtype=np.int64),
        address_kind=forms["address_kind"],
        street=rng.integers(0, big, size=count),
        city=rng.integers(0, big, size=count),
        state=rng.integers(0, big, size=count),
        postal=rng.integers(0, big, size=count),
        plus4=rng.random(count) < 0.1,
        picks=rng.integers(0, big, size=count),
    )
    _pair_duplicates(rng, plan)
    return plan


def _pair_duplicates(rng: np.random.Generator, plan: UserPlan) -> None:
    """Make each drawn second registration the same person as an earlier user with a valid email."""
    row, email = plan.forms["row_form"], plan.forms["email_form"]
    duplicate = catalogue.code("user_duplicate_registration")
    valid = np.isin(email, [catalogue.code(f) for f in VALID_EMAIL_FORMS]) & (row != duplicate)
    candidates = np.flatnonzero(valid)
    taken: set[int] = set()
    for i in np.flatnonzero(row == duplicate).tolist():
        upto = int(np.searchsorted(candidates, i))
        first = None
        for _ in range(8):
            if upto == 0:
                break
            j = int(candidates[rng.integers(0, upto)])
            if j not in taken:
                first = j
                break
        if first is None:
            row[i] = catalogue.code("user_single")
            continue
        taken.add(first)
        plan.merged_into[i] = first + 1
        for array in (plan.first, plan.last, plan.domain, plan.abroad, plan.phone_digits, plan.address_kind):
            array[i] = array[first]
        for array in (plan.street, plan.city, plan.state, plan.postal, plan.plus4):
            array[i] = array[first]
        plan.forms["text_form"][i] = plan.forms["text_form"][first]
        # Registered again later than the first time; the person stays the same.
        span = max(1, END - 30 * DAY - int(plan.registered_at[first]))
        plan.registered_at[i] = plan.registered_at[first] + int(rng.integers(0, span))


def _person(pools: Pools, text_form: str, first: int, last: int) -> tuple[str, str]:
    given = pools.first_names[first % len(pools.first_names)]
    family = pools.last_names[last % len(pools.last_names)]
    match text_form:
        case "text_non_ascii":
            return (
                pools.intl_first_names[first % len(pools.intl_first_names)],
                pools.intl_last_names[last % len(pools.intl_last_names)],
            )
        case "text_quotes":
            if first % 2:
                return QUOTE_FIRST_NAMES[first % len(QUOTE_FIRST_NAMES)], family
            return given, QUOTE_LAST_NAMES[last % len(QUOTE_LAST_NAMES)]
        case "text_sql_like":
            return given, SQL_LIKE_LAST_NAMES[last % len(SQL_LIKE_LAST_NAMES)]
    return given, family


def canonical_users(plan: UserPlan, pools: Pools, start: int, stop: int) -> list[CanonicalUser]:
    """The canonical users with 0-based positions start..stop (legacy ids start+1..stop)."""
    text_ids = _ids("text_form", plan.forms["text_form"][start:stop])
    kind_ids = _ids("address_kind", plan.address_kind[start:stop])
    users = []
    for offset, i in enumerate(range(start, stop)):
        user_id = i + 1
        first, last = _person(pools, text_ids[offset], int(plan.first[i]), int(plan.last[i]))
        local = f"{ascii_letters(first) or 'user'}.{ascii_letters(last) or 'user'}"
        # Without the owner's id no canonical email is unique; with it, none equals another after E1.
        email_owner = int(plan.merged_into[i]) if plan.merged_into[i] >= 0 else user_id
        email = f"{local}{email_owner}@{pools.domains[int(plan.domain[i]) % len(pools.domains)]}"
        digits = f"{int(plan.phone_digits[i]):012d}"
        if plan.abroad[i]:
            country_code, sizes = INTL_PHONES[int(digits[0]) % len(INTL_PHONES)]
            groups, at = [], 1
            for size in sizes:
                groups.append(digits[at : at + size])
                at += size
            # A leading zero is no national number abroad either: the first digit is never 0.
            groups[0] = str(int(groups[0][0]) % 9 + 1) + groups[0][1:]
            phone = Phone(country_code, tuple(groups))
        else:
            # North American numbers: area code and exchange start with 2-9.
            area = f"{int(digits[0]) % 8 + 2}{digits[1:3]}"
            exchange = f"{int(digits[3]) % 8 + 2}{digits[4:6]}"
            phone = Phone("1", (area, exchange, digits[6:10]))
        address = _canonical_address(pools, kind_ids[offset], plan, i)
        username = pools.user_names[int(plan.username[i]) % len(pools.user_names)] + str(user_id)
        users.append(
            CanonicalUser(
                user_id, username, first, last, email, int(plan.registered_at[i]), phone, address, text_ids[offset]
            )
        )
    return users


def _canonical_address(pools: Pools, kind: str, plan: UserPlan, i: int) -> Address:
    city = pools.cities[int(plan.city[i]) % len(pools.cities)]
    state = US_STATES[int(plan.state[i]) % len(US_STATES)]
    postal = pools.zips[int(plan.postal[i]) % len(pools.zips)]
    if plan.plus4[i]:
        postal += f"-{int(plan.postal[i]) % 10_000:04d}"
    street = pools.streets[int(plan.street[i]) % len(pools.streets)]
    match kind:
        case "address_apartment":
            base = street.split(" Apt.")[0].split(" Suite")[0]
            street = f"{base}, {pools.secondary[int(plan.street[i]) % len(pools.secondary)]}"
        case "address_po_box":
            street = f"PO Box {int(plan.street[i]) % 9_999 + 1}"
        case "address_military":
            street = pools.military_streets[int(plan.street[i]) % len(pools.military_streets)]
            city = MILITARY_CITIES[int(plan.city[i]) % len(MILITARY_CITIES)]
            state = MILITARY_STATES[int(plan.state[i]) % len(MILITARY_STATES)]
            postal = f"{int(plan.postal[i]) % 90_000 + 10_000}"
    return Address(kind, street, city, state, postal)
