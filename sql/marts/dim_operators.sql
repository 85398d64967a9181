-- One row per operator version, valid on local days valid_from <= day < valid_to (9999-12-31 when open-ended)
select * from stg_operators
