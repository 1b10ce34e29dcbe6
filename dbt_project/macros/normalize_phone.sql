{#
    A phone number in E.164, or null when it cannot be written so without guessing (rule P1). Only digits,
    spaces, dots, dashes, parentheses and a leading + qualify: an extension or any other text keeps the
    number as written. Written internationally (a leading +, or the 00 prefix), the digits must be a country
    code and a national number of a length that country uses. Ten digits, or 1 and ten, are North American
    (+1), the legacy app's only market, when the area code starts with 2-9 (a 1 there is the trunk prefix,
    011 the international one), and +1 numbers need such an area code too. Anything else (a number cut by the
    legacy varchar(20), a trunk prefix written after the country code) is not guessed at.
    tests/loader/transform/test_phone_oracle.py holds the rule against libphonenumber.
#}
{% macro normalize_phone(value) -%}
    {#- Country calling codes by the lengths of their national numbers, as libphonenumber's metadata gives them
        (phonenumbers 9.0), lengths dialled only locally left out. loader/transform/pandas_engine/parse.py has the same. -#}
    {%- set national_lengths = {
        "4-5": "290",
        "4-7": "690",
        "4-11": "352",
        "4-13": "43 598",
        "4-15": "49",
        "4-7 10": "98",
        "4 7": "683",
        "5": "500 682",
        "5-6": "247",
        "5-7": "688",
        "5-8": "386",
        "5-10": "27 64",
        "5-11": "31",
        "5-12": "358 971",
        "5-10 12": "61",
        "5-9 11": "852",
        "5-7 10": "685",
        "5-6 8-14": "82",
        "5 7": "676 677 678",
        "5 8": "47 686",
        "6": "298 299 672 687",
        "6-7": "597",
        "6-9": "252 355",
        "6-10": "48 95 880",
        "6-11": "375 595",
        "6-12": "39 381",
        "6-10 12": "46",
        "6-9 12": "359",
        "6-8 10": "53",
        "6-7 9": "421",
        "6 8-9": "376 689",
        "6 8-13": "63",
        "6 9": "40 508 681",
        "7": "238 239 246 248 269 291 297 592 673 674 680 691 692",
        "7-8": "241 599 670 675 853 961 965 975",
        "7-9": "231 385 967 968",
        "7-10": "84 243 254 353",
        "7-11": "886",
        "7-12": "86 882 972",
        "7-17": "62",
        "7-9 11": "974",
        "7-8 10": "230 267 372",
        "7-8 10-11": "507",
        "7-8 11": "503",
        "7 9": "220 245 265 354 423",
        "7 9-10": "44 263",
        "7 10": "960",
        "7 10 12-13": "90",
        "7 11": "501 679",
        "8": "45 216 222 223 226 227 228 232 235 236 253 257 266 350 356 357 370 371 373 374 389 505 509 800 808 973 993",
        "8-9": "32 36 51 213 224 233 237 250 258 264 268 377 382 387 591 962 963",
        "8-10": "20 60 855 856 964 970 976",
        "8-11": "55 593",
        "8-12": "92 383 883",
        "8-13": "91",
        "8-17": "81",
        "8-10 13": "66",
        "8 10": "378 506 850",
        "8 10-11": "57 65 977",
        "8 11": "502 504",
        "9": "33 34 93 94 211 212 218 221 240 242 244 249 251 255 256 260 261 262 351 590 594 596 979 992 994 995 998",
        "9-10": "380 881 966 996",
        "9-11": "56",
        "9-12": "420",
        "9 12": "41 870",
        "10": "52 58 225 229",
        "10-11": "54",
        "10-12": "30",
        "10-14": "234",
        "10 14": "7",
        "11": "888",
        "12": "878",
    } -%}
    {#- A national number starts with 1-9: a 0 there is a trunk prefix written by mistake (+44 (0)20 ...). These
        countries have no trunk prefix and numbers that start with 0; Belarus's trunk prefix is 8. -#}
    {%- set first_digits = {
        "39": "0123456789", "47": "0123456789", "225": "0123456789", "227": "0123456789", "229": "0123456789",
        "241": "0123456789", "242": "0123456789", "267": "0123456789", "268": "0123456789", "378": "0123456789",
        "501": "0123456789", "676": "0123456789", "679": "0123456789", "687": "0123456789", "853": "0123456789",
        "375": "12345679",
    } -%}
    {%- set north_american = "[2-9][0-9]{9}" -%}
    {%- set countries = ["1" ~ north_american] -%}
    {%- for lengths, codes in national_lengths.items() -%}
        {%- set rest = [] -%}
        {%- for run in lengths.split() -%}
            {%- set bounds = run.split("-") -%}
            {%- do rest.append("[0-9]{" ~ (bounds[0] | int - 1) ~ "," ~ (bounds[-1] | int - 1) ~ "}") -%}
        {%- endfor -%}
        {%- set ordinary = [] -%}
        {%- for code in codes.split() -%}
            {%- if code in first_digits -%}
                {%- do countries.append(code ~ "[" ~ first_digits[code] ~ "](?:" ~ rest | join("|") ~ ")") -%}
            {%- else -%}
                {%- do ordinary.append(code) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if ordinary -%}
            {%- do countries.append("(?:" ~ ordinary | join("|") ~ ")[1-9](?:" ~ rest | join("|") ~ ")") -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set international = "^(?:" ~ countries | join("|") ~ ")$" -%}
    {%- set digits = "translate(" ~ value ~ ", '+ ().-', '')" -%}
    case
        when {{ value }} !~ '^\+?[0-9 ().-]+$' then null
        when left({{ value }}, 1) = '+' then
            case
                when length({{ digits }}) between 8 and 15 and {{ digits }} ~ '{{ international }}'
                    then '+' || {{ digits }}
            end
        when left({{ digits }}, 2) = '00' then
            case
                when length({{ digits }}) between 10 and 17 and substr({{ digits }}, 3) ~ '{{ international }}'
                    then '+' || substr({{ digits }}, 3)
            end
        when {{ digits }} ~ '^1?{{ north_american }}$' then '+1' || right({{ digits }}, 10)
    end
{%- endmacro %}
