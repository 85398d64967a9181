-- One row per load attempt of a file (the load manifest as published)
select * from load_manifest
