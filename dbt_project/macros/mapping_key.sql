{#
    The key a status, category or country is looked up by in its mapping seed (rule S1): accents folded (Unicode
    NFKD, which also reads full-width and ligature forms, then the combining marks dropped; the few Latin letters
    that do not decompose written as their base letters), lower case (after NFKD, which can bring capitals back),
    and every space, punctuation mark and separator dropped. `In-Transit`, `in_transit`
    and `IN TRANSIT.` are one key, `intransit`; `Electrónica` is `electronica`; `U.S.A.` is `usa`. Both sides of
    a lookup go through it, so a seed holds words, not every spelling of them. Letters and digits of every script
    are kept. The character classes are written out, not `[[:punct:]]`, so the key does not depend on the
    database's locale.
#}
{% macro mapping_key(value) -%}
    regexp_replace(
        replace(replace(replace(translate(lower(normalize({{ value }}, nfkd)), 'øłđħı', 'oldhi'), 'ß', 'ss'), 'æ', 'ae'), 'œ', 'oe'),
        '[\u0001-\u002f\u003a-\u0040\u005b-\u0060\u007b-\u00bf\u00d7\u00f7\u02b9-\u036f\u2000-\u206f\u3000-\u303f\ufe30-\ufe4f\uff01-\uff0f]',
        '',
        'g'
    )
{%- endmacro %}
