-- One row per team
select * from stg_teams
