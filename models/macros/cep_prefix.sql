{#-
  cep_prefix(column): the five-digit CEP prefix of a column, as text with its leading zero.
  The argument is a SQL expression (a column name): cep_prefix('customer_zip_code_prefix').

    '01310', 1310 (a prefix read as a number)            -> '01310'
    '01310-100', '01310100'                             -> '01310' (a full CEP gives its prefix)
    1310100, '1310-100' (a full CEP read as a number)    -> '01310' (its leading zero put back; CEPs
                                                            start at 01000-000, so 7 digits is one lost zero)
    '', NULL                                            -> NULL
    anything else ('12345XYZ', '123456')                -> kept as written, trimmed, for the format
                                                            test to flag (lpad would cut it to five
                                                            characters and it would pass for a CEP)
-#}
{%- macro cep_prefix(column) -%}
case
    when regexp_full_match(trim({{ column }}::VARCHAR), '[0-9]{1,5}') then lpad(trim({{ column }}::VARCHAR), 5, '0')
    when regexp_full_match(trim({{ column }}::VARCHAR), '[0-9]{4,5}-?[0-9]{3}') then left(lpad(replace(trim({{ column }}::VARCHAR), '-', ''), 8, '0'), 5)
    else nullif(trim({{ column }}::VARCHAR), '')
end
{%- endmacro -%}
