{{ stg_quarantine('raw_accounting') }}
