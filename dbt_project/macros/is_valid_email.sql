{#
    Rule E2, RFC 5322's dot-atom with RFC 6531's international characters, as the email-validator library reads
    syntax: a local part of atoms (ASCII atext or any character beyond ASCII but spaces, controls, invisible
    format characters and private use) joined by single dots; one @; a domain of two labels or more, each 1-63
    letters, digits or international characters with inner hyphens, no `ab--` label but Punycode's `xn--`, the
    last ending in a letter and not a special-use name (arpa, invalid, local, localhost, onion, test); no
    combining mark opening a part; 254 bytes at most, 253 characters after the @. What it does not check, on
    purpose (docs/cleaning-rules.md, E2): IDNA 2008's tables per code point, Punycode, unassigned code points.
    pandas_engine/parse.py holds the same expressions.
#}
{% macro is_valid_email(normalized) -%}
    {%- set intl -%}\u00a1-\u00ac\u00ae-\u05ff\u0606-\u061b\u061d-\u06dc\u06de-\u070e\u0710-\u088f\u0892-\u08e1\u08e3-\u167f\u1681-\u180d\u180f-\u1fff\u2010-\u2027\u2030-\u205e\u2070-\u2fff\u3001-\ud7ff\uf900-\ufefe\uff00-\uffef\U00010000-\U000110bc\U000110be-\U000110cc\U000110ce-\U0001342f\U00013440-\U0001bc9f\U0001bca4-\U0001d172\U0001d17b-\U000dffff\U000e0080-\U000effff{%- endset -%}
    {%- set label_char -%}[a-z0-9{{ intl }}]{%- endset -%}
    {%- set label -%}(?![\u0300-\u036f]){{ label_char }}([a-z0-9{{ intl }}-]{0,61}{{ label_char }})?{%- endset -%}
    coalesce(
        {{ normalized }}
        ~ '^(?![\u0300-\u036f])[a-z0-9!#$%&''*+/=?^_`{|}~{{ intl }}-]+(\.[a-z0-9!#$%&''*+/=?^_`{|}~{{ intl }}-]+)*@{{ label }}(\.{{ label }})*\.(?![\u0300-\u036f])([a-z0-9{{ intl }}][a-z0-9{{ intl }}-]{0,61})?[a-z{{ intl }}]$'
        and octet_length({{ normalized }}) <= 254
        and {{ normalized }} !~ '@[^@]{254}'
        and {{ normalized }} !~ '@(?:[^@]*\.)?(?:[^x.][^.]|x[^n.])--'
        and {{ normalized }} !~ '\.(?:arpa|invalid|local|localhost|onion|test)$',
        false
    )
{%- endmacro %}
